"""Diffusion sampling speed: gen_jax's compiled samplers vs the book's 1,000-step Python loop.

    python experiments/benchmarks/ddpm_sampling_vs_torch.py [--num 20] [--repeats 3] [--variant dlfs5]

PyTorch: the book's ch. 9 `Diffuser.sample` (eager, one U-Net call per step in a Python loop)
for `--num` images. gen_jax: the ddpm family's `sample` (`experiments/configs/ddpm.py`,
variant `dlfs5` = the book's U-Net) with the ancestral sampler (all 1,000 steps in one
`lax.scan`) and with DDIM (S = 50). Both from freshly initialised weights (speed only); each
library in its own process; the table gives the median wall time after a first call (which for
JAX includes compilation, reported apart) and the speed-up over the book's loop.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import harness


def jax_times(num: int, repeats: int, variant: str, sampler: str, steps: int) -> dict:
  import jax
  import numpy as np

  from gen_jax import config as config_lib
  from gen_jax import registry

  config = config_lib.override(config_lib.load("ddpm", variant), [f"sample.sampler={sampler}", f"sample.steps={steps}"])
  family = registry.build(config)
  state = family.init(jax.random.key(0), {"image": np.zeros((2, 28, 28, 1), np.float32), "label": np.zeros(2, np.int32)})
  start = time.perf_counter()
  family.draw(state, jax.random.key(1), num)
  first = time.perf_counter() - start
  times = []
  for r in range(repeats):
    start = time.perf_counter()
    family.draw(state, jax.random.key(2 + r), num)
    times.append(time.perf_counter() - start)
  return {"times": times, "first": first, "device": harness.device_name("jax")}


def torch_times(num: int, repeats: int) -> dict:
  import torch

  import book_unet_torch

  device = "cuda" if torch.cuda.is_available() else "cpu"
  torch.manual_seed(0)
  model, diffuser = book_unet_torch.build(device)
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    diffuser.sample(model, (num, 1, 28, 28)).sum().item()
    times.append(time.perf_counter() - start)
  return {"times": times, "first": times[0], "device": harness.device_name("torch")}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--num", type=int, default=20)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--variant", default="dlfs5")
  parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.worker:
    if args.worker == "torch":
      out = torch_times(args.num, args.repeats)
    else:
      sampler, steps = args.worker.split(":")
      out = jax_times(args.num, args.repeats, args.variant, sampler, int(steps))
    print(json.dumps(out))
    return
  env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(harness.ROOT), os.environ.get("PYTHONPATH")]))}
  def run(worker):
    proc = subprocess.run([sys.executable, __file__, "--worker", worker, "--num", str(args.num), "--repeats",
                           str(args.repeats), "--variant", args.variant], capture_output=True, text=True, env=env)
    if proc.returncode:
      raise SystemExit(f"the {worker} worker failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])

  median = lambda r: sorted(r["times"])[len(r["times"]) // 2]
  book = run("torch")
  print(f"| sampler ({args.num} images) | wall time (s) | first call (s) | speed-up vs the book's loop | device |")
  print("|---|---|---|---|---|")
  print(f"| book's loop, 1,000 steps (PyTorch eager) | {median(book):.2f} | {book['first']:.2f} | 1.00x | {book['device']} |")
  for worker, name in (("ddpm:50", "gen_jax ancestral, 1,000 steps in one scan"), ("ddim:50", "gen_jax DDIM, 50 steps")):
    res = run(worker)
    print(f"| {name} | {median(res):.2f} | {res['first']:.2f} | **{median(book) / median(res):.1f}x** | {res['device']} |",
          flush=True)


if __name__ == "__main__":
  main()
