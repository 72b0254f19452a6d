"""The shared harness of the `*_vs_torch.py` benchmarks: the same MNIST batches for both
libraries, each library timed in its own fresh process, a markdown table of examples/s.

A benchmark module defines `time_jax(batch, steps, repeats, variant)` and
`time_torch(batch, steps, repeats)`, each returning the wall times [s] of `repeats` passes over
`steps` steps after a warm-up, and calls `main(__file__, time_jax, time_torch, doc)`.
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


def images(batch: int, steps: int, scale: str = "unit", with_labels: bool = False):
  """`steps` batches of MNIST images [batch, 28, 28, 1] (with labels if asked), in the
  engine's (seed 0) order: what both libraries train on."""
  sys.path.insert(0, str(ROOT))
  from gen_jax import data

  train = data.load_mnist(MNIST)["train"]
  batches = data.Batches({"image": data.scale_images(train["image"], scale), "label": train["label"]}, batch, seed=0)
  feed = [batches.batch(s) for s in range(steps)]
  return feed if with_labels else [b["image"] for b in feed]


def time_engine_update(config, feed, repeats: int) -> list[float]:
  """The family's update exactly as `gen-jax train` runs it: compiled by the loop (jit, state
  donated, on the data mesh), fed sharded batches. Returns the wall time of each pass."""
  import time

  import jax

  from gen_jax import registry
  from gen_jax.train import loop, sharding

  family, mesh, keys = registry.build(config), sharding.make_mesh(), loop.run_keys(0)
  state = sharding.replicate(family.init(keys.init, feed[0]), mesh)
  update = loop.compile_update(family.update, mesh)
  state, metrics = update(state, sharding.shard_batch(feed[0], mesh), keys.train)  # compile
  jax.block_until_ready(metrics)
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    for b in feed:
      state, metrics = update(state, sharding.shard_batch(b, mesh), keys.train)
    jax.block_until_ready((state, metrics))
    times.append(time.perf_counter() - start)
  return times


def time_torch_steps(step, feed, repeats: int) -> list[float]:
  """Wall times of `repeats` passes of `step(x)` over feed (after one warm-up step)."""
  import time

  import torch

  step(feed[0]).item()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    for x in feed:
      loss = step(x)
    loss.item()
    if torch.cuda.is_available():
      torch.cuda.synchronize()
    times.append(time.perf_counter() - start)
  return times


def device_name(library: str) -> str:
  if library == "jax":
    import jax
    return f"jax {jax.__version__} on {jax.devices()[0].device_kind}"
  import torch
  return f"torch {torch.__version__} on {'cuda' if torch.cuda.is_available() else 'cpu'} ({torch.get_num_threads()} threads)"


def _run(script: str, library: str, batch: int, args) -> dict:
  env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
  out = subprocess.run([sys.executable, script, "--worker", library, "--batches", str(batch), "--steps",
                        str(args.steps), "--repeats", str(args.repeats), "--variants", args.variants],
                       capture_output=True, text=True, env=env, check=True)
  return json.loads(out.stdout.strip().splitlines()[-1])


def main(script: str, time_jax, time_torch, doc: str, *, batches: str, steps: int, variants: str = "default") -> None:
  parser = argparse.ArgumentParser(description=doc.split("\n")[0])
  parser.add_argument("--batches", default=batches)
  parser.add_argument("--steps", type=int, default=steps)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--variants", default=variants, help="gen_jax config variants to time, comma-separated")
  parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
  args = parser.parse_args()
  sizes = [int(b) for b in args.batches.split(",")]
  if args.worker:  # one library, one batch size, in this fresh process
    if args.worker == "torch":
      times = time_torch(sizes[0], args.steps, args.repeats)
    else:
      times = time_jax(sizes[0], args.steps, args.repeats, args.worker.removeprefix("jax:"))
    print(json.dumps({"times": times, "device": device_name("torch" if args.worker == "torch" else "jax")}))
    return
  print("| batch | gen_jax config | gen_jax examples/s | PyTorch examples/s | ratio | devices |")
  print("|---|---|---|---|---|---|")
  median = lambda r: sorted(r["times"])[len(r["times"]) // 2]
  for batch in sizes:
    torch_res = _run(script, "torch", batch, args)
    torch_rate = batch * args.steps / median(torch_res)
    for variant in args.variants.split(","):
      res = _run(script, f"jax:{variant}", batch, args)
      rate = batch * args.steps / median(res)
      print(f"| {batch} | `{variant}` | {rate:,.0f} | {torch_rate:,.0f} | **{rate / torch_rate:.2f}x** | "
            f"{res['device']}; {torch_res['device']} |", flush=True)
