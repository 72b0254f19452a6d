"""EM speed: gen_jax vs scikit-learn's GaussianMixture, same data, same initial parameters,
a fixed 100 iterations (tol=0), on this machine, in one run.

    python experiments/benchmarks/gmm_vs_sklearn.py [--cases a_diag,a_full,b,c] [--iters 100]
        [--repeats R] [--sklearn-repeats R] [--sklearn-threads 1,all] [--libraries sklearn,gen_jax_f32,gen_jax_f64]

Runs unchanged on a CPU-only machine and on a GPU machine: gen_jax computes on JAX's default
device (named in the table), scikit-learn (float64) on the CPU cores, once held to one BLAS
thread and once with all of them (on a 16-core GPU host all threads were slower than one);
the speed-up is against the faster of the two. Each library runs in a fresh process (so peak
RSS is its own): scikit-learn, gen_jax float32 and gen_jax float64 (JAX_ENABLE_X64=1). The
data and the shared initial parameters are made once per case by another process and read
from a temporary folder. Each library is timed R times (R = REPEATS[case] unless --repeats /
--sklearn-repeats say otherwise; timings on a shared machine vary by ±20%) and the table
reports the median; gen_jax's first call, which includes compilation, is reported apart and
not counted in R. The table also gives each final mean log-likelihood and its relative
difference from scikit-learn's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
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


def prepare(case: str, folder: Path) -> None:
  """Writes the case's data (x.npy) and initial parameters (init.npz) into `folder`."""
  import numpy as np

  x = make_data(case)
  np.save(folder / "x.npy", x)
  np.savez(folder / "init.npz", **initial_params(case, x))


def sklearn_fit(case: str, x, init: dict, iters: int, threads: str):
  """(run() -> final log-likelihood, the BLAS threads it uses), scikit-learn held to `threads`."""
  import warnings

  import numpy as np
  from sklearn.mixture import GaussianMixture
  from threadpoolctl import threadpool_info, threadpool_limits

  _, _, _, k, kind = CASES[case]
  if threads != "all":  # for the whole process: the limiter object stays referenced while fits run
    sklearn_fit.limiter = threadpool_limits(limits=int(threads), user_api="blas")
  blas = max((p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"), default=1)
  precisions = 1.0 / init["covariances"] if kind == "diag" else np.linalg.inv(init["covariances"])

  def run():
    model = GaussianMixture(k, covariance_type=kind, tol=0.0, max_iter=iters, reg_covar=1e-6,
                            weights_init=init["weights"], means_init=init["means"], precisions_init=precisions)
    with warnings.catch_warnings():
      warnings.simplefilter("ignore")
      model.fit(x)
    return float(model.lower_bounds_[-1])

  return run, f"CPU, {blas} BLAS thread{'s' if blas > 1 else ''}"


def gen_jax_fit(case: str, x, init: dict, iters: int):
  """(run() -> final log-likelihood, the device it computes on)."""
  import jax
  import jax.numpy as jnp

  from gen_jax import gmm

  _, _, _, k, kind = CASES[case]
  dtype = jnp.asarray(0.0).dtype
  params = gmm.GMMParams(*(jnp.asarray(init[f], dtype) for f in ("weights", "means", "covariances")), kind)

  def run():
    result = gmm.fit(x, k, key=jax.random.key(0), covariance_type=kind, tol=0.0, max_iter=iters, init_params=params)
    jax.block_until_ready(result.params)
    return float(result.log_likelihood[-1])

  device = jax.devices()[0]
  return run, f"GPU: {device.device_kind}" if device.platform == "gpu" else f"{device.platform.upper()} (XLA)"


def child(case: str, library: str, iters: int, repeats: int, folder: Path) -> dict:
  """One library on one case, in this (fresh) process: the median of `repeats` timed fits."""
  import resource
  import statistics
  import time

  import numpy as np

  x = np.load(folder / "x.npy")
  init = dict(np.load(folder / "init.npz"))
  if library.startswith("sklearn"):
    run, device = sklearn_fit(case, x, init, iters, library.split(":")[1])
  else:
    run, device = gen_jax_fit(case, x, init, iters)

  def timed():
    start = time.perf_counter()
    log_likelihood = run()
    return time.perf_counter() - start, log_likelihood

  first = timed() if not library.startswith("sklearn") else None  # compilation
  runs = [timed() for _ in range(repeats)]
  seconds = [t for t, _ in runs]
  return {"seconds": statistics.median(seconds), "all_seconds": seconds, "device": device,
          "first_seconds": first[0] if first else None, "log_likelihood": runs[-1][1],
          "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20, "data_gb": x.nbytes / 2 ** 30}


def spawn(*args: str, library: str = "") -> str:
  path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))  # keep the caller's entries
  env = dict(os.environ, JAX_ENABLE_X64="1" if library in ("gen_jax_f64", "prepare") else "0", PYTHONPATH=path)
  proc = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True)
  if proc.returncode:
    raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stderr[-2000:]}")
  return proc.stdout


def measure(case: str, library: str, iters: int, repeats: int, folder: Path) -> dict:
  out = spawn("--child", case, library, str(iters), str(repeats), str(folder), library=library.split(":")[0])
  return json.loads(out.strip().splitlines()[-1])


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--cases", default=",".join(CASES))
  parser.add_argument("--iters", type=int, default=100)
  parser.add_argument("--repeats", type=int, default=None, help="timed gen_jax fits (default: REPEATS[case])")
  parser.add_argument("--sklearn-repeats", type=int, default=None, help="timed scikit-learn fits (default: REPEATS[case])")
  parser.add_argument("--sklearn-threads", default="1,all", help="BLAS thread limits to time scikit-learn with")
  parser.add_argument("--sklearn-iters", type=int, default=None,
                      help="run scikit-learn for fewer iterations and scale its time to --iters (its cost per "
                           "iteration is constant); log-likelihoods are then compared with gen_jax_f64")
  parser.add_argument("--libraries", default="sklearn,gen_jax_f32,gen_jax_f64")
  parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
  parser.add_argument("--prepare", nargs=2, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.prepare:
    prepare(args.prepare[0], Path(args.prepare[1]))
    return
  if args.child:
    case, library, iters, repeats, folder = args.child
    print(json.dumps(child(case, library, int(iters), int(repeats), Path(folder))))
    return
  libraries = args.libraries.split(",")
  sk_iters = args.sklearn_iters or args.iters
  if "sklearn" not in libraries or (sk_iters != args.iters and "gen_jax_f64" not in libraries):
    raise SystemExit("--libraries must include sklearn (and gen_jax_f64 with --sklearn-iters): they are the references")
  if sk_iters != args.iters:
    print(f"scikit-learn ran {sk_iters} iterations: its time is scaled by {args.iters / sk_iters:g} (shown as "
          f"'measured -> scaled'); log-likelihoods are compared with gen_jax_f64 after {args.iters}.")
  print(f"EM, {args.iters} iterations (tol=0), same initial parameters; {os.cpu_count()} CPU cores; "
        "time = median of R fits (all R in brackets); speed-up against the faster scikit-learn row\n")
  print("| case | library | device | time (s) | R fits (s) | first call incl. compile (s) | speed-up vs sklearn | "
        "peak RSS (GB) | final mean log-lik. | rel. diff. vs sklearn |")
  print("|---|---|---|---|---|---|---|---|---|---|")
  for case in args.cases.split(","):
    with tempfile.TemporaryDirectory(prefix=f"gmm_bench_{case}_") as folder:
      spawn("--prepare", case, folder, library="prepare")
      results = {}
      for library in libraries:
        if library == "sklearn":
          for threads in args.sklearn_threads.split(","):
            r = measure(case, f"sklearn:{threads}", sk_iters, args.sklearn_repeats or REPEATS[case], Path(folder))
            r["measured"], r["seconds"] = r["seconds"], r["seconds"] * args.iters / sk_iters
            results[f"sklearn:{threads}"] = r
        else:
          results[library] = measure(case, library, args.iters, args.repeats or REPEATS[case], Path(folder))
    ref = min((r for lib, r in results.items() if lib.startswith("sklearn")), key=lambda r: r["seconds"])
    ll_ref = (ref if sk_iters == args.iters else results["gen_jax_f64"])["log_likelihood"]
    for lib, r in results.items():
      speedup = ref["seconds"] / r["seconds"]
      scaled = "measured" in r and sk_iters != args.iters
      rel = float("nan") if scaled else abs(r["log_likelihood"] - ll_ref) / abs(ll_ref)
      runs = ", ".join(f"{t:.3f}" if t < 1 else f"{t:.2f}" for t in r["all_seconds"])
      first = "-" if r["first_seconds"] is None else f"{r['first_seconds']:.2f}"
      seconds = f"{r['seconds']:.3f}" if r["seconds"] < 1 else f"{r['seconds']:.2f}"
      if scaled:
        seconds = f"{r['measured']:.2f} -> {seconds}"
      print(f"| {CASES[case][0]} | {lib.split(':')[0]} | {r['device']} | {seconds} | {runs} | {first} | "
            f"{speedup:.1f}x | {r['peak_rss_gb']:.2f} | {r['log_likelihood']:.6f} | {rel:.1e} |", flush=True)


if __name__ == "__main__":
  main()
