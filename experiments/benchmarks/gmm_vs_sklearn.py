"""EM speed: gen_jax vs scikit-learn's GaussianMixture, same data, same initial parameters,
a fixed 100 iterations (tol=0), on this machine, in one run.

    python experiments/benchmarks/gmm_vs_sklearn.py [--cases a_diag,a_full,b,c] [--iters 100] [--repeats R]

Each library runs in a fresh process (so peak RSS is its own): scikit-learn (float64),
gen_jax float32 and gen_jax float64 (JAX_ENABLE_X64=1). Each is timed R times in its process
(R = REPEATS[case] unless --repeats is given; timings on a shared 2-core machine vary by
±20%) and the table reports the median; gen_jax's first call, which includes compilation, is
reported apart and not counted in R. The table also gives the final mean log-likelihood of
each and its relative difference from scikit-learn's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MNIST = Path(os.environ.get("GEN_JAX_DATA_DIR", ROOT.parent / "shared" / "data" / "mnist"))
REPEATS = {"a_diag": 3, "a_full": 3, "b": 3, "c": 1}  # c: one scikit-learn fit takes ~6 minutes
CASES = {  # name: (description, N, D, K, covariance type)
    "a_diag": ("synthetic 100,000 x 32, K=16, diag", 100_000, 32, 16, "diag"),
    "a_full": ("synthetic 100,000 x 32, K=16, full", 100_000, 32, 16, "full"),
    "b": ("MNIST -> PCA 50 (60,000 x 50), K=10, full", 60_000, 50, 10, "full"),
    "c": ("synthetic 1,000,000 x 64, K=64, diag", 1_000_000, 64, 64, "diag"),
}


def make_data(case: str):
  import numpy as np

  _, n, d, k, _ = CASES[case]
  if case == "b":
    sys.path.insert(0, str(ROOT))
    from gen_jax.data import load_mnist

    images = load_mnist(MNIST)["train"]["image"].reshape(60_000, -1).astype(np.float64) / 255.0
    centred = images - images.mean(0)
    _, _, vt = np.linalg.svd(centred[::6], full_matrices=False)  # principal axes from 10,000 images
    return centred @ vt[:d].T
  rng = np.random.default_rng(0)
  means = rng.normal(scale=3.0, size=(k, d))
  scales = rng.uniform(0.5, 2.0, size=(k, d))
  labels = rng.integers(k, size=n)
  x = np.empty((n, d))
  for start in range(0, n, 100_000):  # bounded temporaries
    z = labels[start:start + 100_000]
    x[start:start + 100_000] = means[z] + scales[z] * rng.normal(size=(len(z), d))
  return x


def initial_params(case: str, x):
  """kmeans++ responsibilities + one M-step, by gen_jax in float64: shared by both libraries."""
  import jax
  import numpy as np

  from gen_jax import gmm

  _, _, _, k, kind = CASES[case]
  with jax.enable_x64(True):
    p = gmm.fit(x, k, key=jax.random.key(0), covariance_type=kind, max_iter=1).params
    return {"weights": np.asarray(p.weights), "means": np.asarray(p.means), "covariances": np.asarray(p.covariances)}


def child(case: str, library: str, iters: int, repeats: int) -> dict:
  """One library on one case, in this (fresh) process: the median of `repeats` timed fits."""
  import resource
  import statistics
  import time
  import warnings

  import numpy as np

  x = make_data(case)
  init = initial_params(case, x)
  _, _, _, k, kind = CASES[case]
  if library == "sklearn":
    from sklearn.mixture import GaussianMixture

    precisions = 1.0 / init["covariances"] if kind == "diag" else np.linalg.inv(init["covariances"])

    def run():
      model = GaussianMixture(k, covariance_type=kind, tol=0.0, max_iter=iters, reg_covar=1e-6,
                              weights_init=init["weights"], means_init=init["means"], precisions_init=precisions)
      with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x)
      return float(model.lower_bounds_[-1])
  else:
    import jax
    import jax.numpy as jnp

    from gen_jax import gmm

    dtype = jnp.asarray(0.0).dtype
    params = gmm.GMMParams(*(jnp.asarray(init[f], dtype) for f in ("weights", "means", "covariances")), kind)

    def run():
      result = gmm.fit(x, k, key=jax.random.key(0), covariance_type=kind, tol=0.0, max_iter=iters, init_params=params)
      jax.block_until_ready(result.params)
      return float(result.log_likelihood[-1])

  def timed():
    start = time.perf_counter()
    log_likelihood = run()
    return time.perf_counter() - start, log_likelihood

  first = timed() if library != "sklearn" else None  # compilation
  runs = [timed() for _ in range(repeats)]
  seconds = [t for t, _ in runs]
  return {"seconds": statistics.median(seconds), "all_seconds": seconds,
          "first_seconds": first[0] if first else None, "log_likelihood": runs[-1][1],
          "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20, "data_gb": x.nbytes / 2 ** 30}


def measure(case: str, library: str, iters: int, repeats: int) -> dict:
  env = dict(os.environ, JAX_ENABLE_X64="1" if library == "gen_jax_f64" else "0", PYTHONPATH=str(ROOT))
  proc = subprocess.run([sys.executable, __file__, "--child", case, library, str(iters), str(repeats)], env=env,
                        capture_output=True, text=True)
  if proc.returncode:
    raise RuntimeError(f"{case}/{library} failed:\n{proc.stderr[-2000:]}")
  return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--cases", default=",".join(CASES))
  parser.add_argument("--iters", type=int, default=100)
  parser.add_argument("--repeats", type=int, default=None, help="timed fits per library (default: REPEATS[case])")
  parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.child:
    case, library, iters, repeats = args.child
    print(json.dumps(child(case, library, int(iters), int(repeats))))
    return
  print(f"EM, {args.iters} iterations (tol=0), same initial parameters; {os.cpu_count()} CPU cores; "
        "time = median of R fits (all R in brackets)\n")
  print("| case | library | time (s) | R fits (s) | first call incl. compile (s) | speed-up vs sklearn | "
        "peak RSS (GB) | final mean log-lik. | rel. diff. vs sklearn |")
  print("|---|---|---|---|---|---|---|---|---|")
  for case in args.cases.split(","):
    repeats = args.repeats or REPEATS[case]
    results = {lib: measure(case, lib, args.iters, repeats) for lib in ("sklearn", "gen_jax_f32", "gen_jax_f64")}
    ref = results["sklearn"]
    for lib, r in results.items():
      speedup = ref["seconds"] / r["seconds"]
      rel = abs(r["log_likelihood"] - ref["log_likelihood"]) / abs(ref["log_likelihood"])
      runs = ", ".join(f"{t:.2f}" for t in r["all_seconds"])
      first = "-" if r["first_seconds"] is None else f"{r['first_seconds']:.2f}"
      print(f"| {CASES[case][0]} | {lib} | {r['seconds']:.2f} | {runs} | {first} | {speedup:.1f}x | "
            f"{r['peak_rss_gb']:.2f} | {r['log_likelihood']:.6f} | {rel:.1e} |", flush=True)


if __name__ == "__main__":
  main()
