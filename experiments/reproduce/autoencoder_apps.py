"""Autoencoder applications on MNIST; every model is trained by the engine (`loop.train`) from
the variants of experiments/configs/autoencoder.py:

  reconstruction  "default" (deep MLP, 32-D code): originals over reconstructions
  latent space    "latent2" (the same net with a 2-D code): codes scattered by digit
                  (these two figures come from the family's report: training images)
  denoising       "denoising" (Gaussian noise σ = 0.5): noisy / clean / denoised images
  anomaly         "anomaly" (trained on digits 0-8): AUROC of the per-image reconstruction MSE
                  for telling the unseen 9s from the test images of 0-8
  compression     "default" with net.latent_dim in 2, 4, 8, 16, 32, 64: test MSE vs code size
                  (the 2-D point is the "latent2" run, the 32-D point the "default" run)

    python experiments/reproduce/autoencoder_apps.py --data-dir ../shared/data/mnist \
        --workdir runs/ae_apps [--quick]

--quick trains every model for QUICK_STEPS steps (about 2 minutes in all on 2 CPU cores);
without it each model trains for the config's 10 epochs. Each run lives in WORKDIR/<name>; a
rerun resumes (or reuses) those runs. The figures are copied to WORKDIR (reconstructions.png,
latent_space.png, denoising.png, anomaly_scores.png) next to compression.png and results.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

from gen_jax import config as config_lib
from gen_jax import data, viz
from gen_jax.train import loop

LATENT_SIZES = (2, 4, 8, 16, 32, 64)
QUICK_STEPS = 400
HELD_OUT_DIGIT = 9


def make_config(variant: str, args, *overrides: str):
  """The config file's `variant` with the data folder, the step count and `overrides` applied."""
  steps = [f"train.num_steps={QUICK_STEPS}"] if args.quick else []
  settings = [f"data.data_dir={args.data_dir}", "train.progress_bar=False", *steps, *overrides]
  return config_lib.override(config_lib.load("autoencoder", variant), settings)


def runs(args) -> dict[str, tuple[str, list[str]]]:
  """name -> (config variant, overrides) of every run this script trains."""
  out = {}
  for size in LATENT_SIZES:  # "latent2" and "default" are the 2-D and 32-D points
    named = {2: "latent2", 32: "default"}
    out[f"latent_{size}"] = (named[size], []) if size in named else ("default", [f"net.latent_dim={size}"])
  out["denoising"] = ("denoising", [])
  out["anomaly"] = ("anomaly", [])
  return out


def train_all(args, workdir: Path) -> dict[str, dict]:
  results = {}
  for name, (variant, overrides) in runs(args).items():
    config = make_config(variant, args, *overrides)
    start = time.perf_counter()
    results[name] = loop.train(config, workdir / name)
    seconds = time.perf_counter() - start
    shown = {k: round(v, 5) for k, v in results[name].items() if k != "step"}
    print(f"{name:>10} ({variant}, latent {config.net.latent_dim}, {results[name]['step']} steps, "
          f"{seconds:.0f} s): {shown}", flush=True)
  return results


def mean_image_mse(args) -> float:
  """Test MSE of the best constant reconstruction (the mean training image): the baseline."""
  splits = data.load(make_config("default", args).data)
  return float(np.mean((splits["test"]["image"] - splits["train"]["image"].mean(0)) ** 2))


def plot_compression(sizes, mses, baseline: float, path: Path) -> None:
  fig, ax = viz.plt.subplots(figsize=(5.5, 4))
  ax.plot(sizes, mses, "o-", label="deep MLP autoencoder")
  ax.axhline(baseline, color="gray", ls="--", label="mean image (no code)")
  ax.set_xscale("log", base=2)
  ax.set_xticks(sizes, [str(s) for s in sizes])
  ax.set(xlabel="latent size (code dimensions)", ylabel="test reconstruction MSE per pixel")
  ax.set_title("compression: reconstruction error vs code size")
  ax.grid(alpha=0.3)
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  viz.plt.close(fig)


def main(argv=None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--data-dir", required=True, help="folder of the MNIST IDX files")
  parser.add_argument("--workdir", required=True, help="where the runs and figures go")
  parser.add_argument("--quick", action="store_true", help=f"{QUICK_STEPS} steps per model")
  args = parser.parse_args(argv)
  workdir = Path(args.workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  start = time.perf_counter()
  results = train_all(args, workdir)
  for name, figure in [("latent_32", "reconstructions.png"), ("latent_2", "latent_space.png"),
                       ("denoising", "denoising.png"), ("anomaly", "anomaly_scores.png")]:
    shutil.copyfile(workdir / name / figure, workdir / figure)
  baseline = mean_image_mse(args)
  mses = [results[f"latent_{size}"]["test_mse"] for size in LATENT_SIZES]
  plot_compression(LATENT_SIZES, mses, baseline, workdir / "compression.png")
  summary = {
      "quick": args.quick,
      "steps_per_model": results["latent_32"]["step"],
      "compression_test_mse": {str(size): mse for size, mse in zip(LATENT_SIZES, mses)},
      "mean_image_test_mse": baseline,
      "denoising_test_mse": results["denoising"]["test_mse"],
      "anomaly_held_out_digit": HELD_OUT_DIGIT,
      "anomaly_auroc": results["anomaly"]["anomaly_auroc"],
      "wall_seconds": round(time.perf_counter() - start, 1),
  }
  (workdir / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
  print(json.dumps(summary, indent=2))
  return summary


if __name__ == "__main__":
  main()
