"""Classifier-free guidance sweep: judged accuracy and classifier FID of a conditional diffusion
run against the guidance scale γ, as a PNG and a JSON file.

    python experiments/reproduce/guidance_sweep.py --workdir runs/ddpm_cond --judge runs/cnn \
        [--scales 0,1,2,3,5] [--num 1000] [--sampler ddim --steps 50] [--seed 0] [--data-dir DIR]

For each γ: `--num` samples with labels 0..9 in turn (sample i from fold_in(key, i): the same
noise at every γ), scored by the judge (`gen_jax.metrics.sample_quality`) against the test
images. Writes WORKDIR/guidance_sweep.png and WORKDIR/guidance_sweep.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def sweep(workdir: str, judge_dir: str, scales, *, num: int, sampler: str, steps: int, seed: int,
          data_dir: str | None) -> list[dict]:
  import jax

  from gen_jax import data
  from gen_jax.metrics import Judge, sample_quality
  from gen_jax.train.loop import restore_run

  judge = Judge.load(judge_dir)
  rows = []
  for gamma in scales:
    overrides = [f"sample.guidance={gamma}", f"sample.sampler={sampler}", f"sample.steps={steps}"]
    config, family, state = restore_run(workdir, data_dir=data_dir, eval_overrides=overrides)
    if not family.conditional:
      raise ValueError(f"{workdir} holds an unconditional model: guidance needs labels")
    labels = np.arange(num) % judge.num_classes
    images = np.asarray(family.draw(state, jax.random.key(seed), num, labels=labels))
    reference = data.load_mnist(config.data.get("data_dir") or None)["test"]["image"]
    quality = sample_quality(judge, images, reference, labels=labels)
    rows.append({"guidance": gamma, "conditional_accuracy": quality["conditional_accuracy"],
                 "classifier_fid": quality["classifier_fid"], "num_samples": num})
    print(json.dumps(rows[-1]), flush=True)
  return rows


def plot(rows: list[dict], path: Path) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  g = [r["guidance"] for r in rows]
  fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3.2))
  a.plot(g, [100 * r["conditional_accuracy"] for r in rows], "o-")
  a.set(xlabel="guidance scale γ", ylabel="judged as requested (%)", title="label accuracy")
  b.plot(g, [r["classifier_fid"] for r in rows], "o-", color="C1")
  b.set(xlabel="guidance scale γ", ylabel="classifier FID", title="sample quality")
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--judge", required=True)
  parser.add_argument("--scales", default="0,1,2,3,5")
  parser.add_argument("--num", type=int, default=1000)
  parser.add_argument("--sampler", default="ddim", choices=("ddpm", "ddim"))
  parser.add_argument("--steps", type=int, default=50)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--data-dir", default=None)
  args = parser.parse_args()
  scales = [float(s) for s in args.scales.split(",")]
  rows = sweep(args.workdir, args.judge, scales, num=args.num, sampler=args.sampler, steps=args.steps,
               seed=args.seed, data_dir=args.data_dir)
  out = Path(args.workdir)
  (out / "guidance_sweep.json").write_text(json.dumps(rows, indent=2) + "\n")
  plot(rows, out / "guidance_sweep.png")
  print(json.dumps({"png": str(out / "guidance_sweep.png"), "json": str(out / "guidance_sweep.json")}))


if __name__ == "__main__":
  main()
