"""gen-jax: the only module that parses arguments.

  gen-jax list
  gen-jax train MODEL --workdir DIR [--config NAME_OR_FILE] [--data-dir DIR] [--data SOURCE] [--config.KEY=VALUE ...]
  gen-jax sample --workdir DIR --num N --seed S [--labels L1,L2,...] --out FILE.npz
                 [--sampler ddpm|ddim] [--steps S] [--eta η] [--guidance γ]
                 [--classifier RUN --classifier-scale s] [--config.sample.KEY=VALUE ...]
  gen-jax eval --workdir DIR [--judge DIR] [--num N] [--data-dir DIR] [--config.eval.KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog="gen-jax", description=__doc__.split("\n")[0])
  sub = parser.add_subparsers(dest="command", required=True)
  sub.add_parser("list", help="the models and their config variants")
  train = sub.add_parser("train", help="train (or resume) a model in a workdir",
                         epilog="--config.KEY=VALUE overrides any key of the config")
  train.add_argument("model")
  train.add_argument("--workdir", required=True)
  train.add_argument("--config", default=None, help="variant name (e.g. mlp, cnn, tiny) or FILE.py[:arg]")
  train.add_argument("--data-dir", default=None, help="folder with the four MNIST IDX files")
  train.add_argument("--data", default=None, help="density models: FILE (numeric text), toy:NAME or mnist")
  train.add_argument("--multihost", action="store_true", help="call jax.distributed.initialize() first")
  sample = sub.add_parser("sample", help="draw samples from a trained generative model")
  sample.add_argument("--workdir", required=True)
  sample.add_argument("--num", type=int, required=True)
  sample.add_argument("--seed", type=int, required=True)
  sample.add_argument("--labels", default=None, help="comma-separated class labels (conditional models)")
  sample.add_argument("--out", required=True, help="FILE.npz (a FILE.png grid is written beside it)")
  sample.add_argument("--sampler", choices=("ddpm", "ddim", "full", "cached"), default=None,
                      help="diffusion: ancestral or DDIM; gated PixelCNN: the row cache or the full network per pixel")
  sample.add_argument("--steps", type=int, default=None, help="diffusion: DDIM steps S")
  sample.add_argument("--eta", type=float, default=None, help="diffusion: DDIM η (0: deterministic)")
  sample.add_argument("--guidance", type=float, default=None, help="diffusion: classifier-free guidance γ")
  sample.add_argument("--classifier", default=None, help="diffusion: a noisy_classifier run for classifier guidance")
  sample.add_argument("--classifier-scale", type=float, default=None, help="diffusion: classifier guidance scale s")
  evaluate = sub.add_parser("eval", help="evaluate a run; prints one JSON line, writes eval.json")
  evaluate.add_argument("--workdir", required=True)
  evaluate.add_argument("--judge", default=None, help="a trained classifier run that scores samples")
  evaluate.add_argument("--num", type=int, default=10000, help="samples scored by the judge")
  evaluate.add_argument("--seed", type=int, default=0, help="seed of the judged samples")
  evaluate.add_argument("--data-dir", default=None)
  return parser


def _list() -> None:
  from gen_jax import config as config_lib
  from gen_jax import registry

  for name in registry.names():
    path = config_lib.config_dir() / f"{name}.py"
    variants = getattr(config_lib.load_module(path), "VARIANTS", ()) if path.is_file() else ()
    print(f"{name:12s} variants: {', '.join(variants) or '-'}")


def _train(args, overrides: list[str]) -> None:
  from gen_jax import config as config_lib
  from gen_jax.train import loop, sharding

  if args.multihost:
    sharding.initialize_multihost()
  config = config_lib.load(args.model, args.config)
  if args.data_dir:
    overrides = [f"data.data_dir={args.data_dir}", *overrides]
  if args.data:
    source = args.data if args.data == "mnist" or args.data.startswith("toy:") else str(Path(args.data).absolute())
    overrides = [f"data.source={source}", *overrides]
  config = config_lib.override(config, overrides)
  results = loop.train(config, args.workdir)
  print(json.dumps(results))


def _parse_labels(text: str | None, num: int):
  if text is None:
    return None
  try:
    labels = np.asarray([int(t) for t in text.split(",")], np.int32)
  except ValueError:
    raise ValueError(f"--labels must be comma-separated integers, got {text!r}") from None
  return np.resize(labels, num)  # cycles through the given labels


def _sample(args, overrides: list[str]) -> None:
  import jax

  from gen_jax import viz
  from gen_jax.train.loop import restore_run

  out = Path(args.out)
  if out.suffix != ".npz":
    raise ValueError(f"--out must end in .npz, got {out}")
  flags = {"sampler": args.sampler, "steps": args.steps, "eta": args.eta, "guidance": args.guidance,
           "classifier_workdir": args.classifier, "classifier_scale": args.classifier_scale}
  overrides = [*(f"sample.{k}={v}" for k, v in flags.items() if v is not None), *overrides]
  _, family, state = restore_run(args.workdir, eval_overrides=overrides)  # unknown sample.* keys: a KeyError
  labels = _parse_labels(args.labels, args.num)
  samples = np.asarray(family.draw(state, jax.random.key(args.seed), args.num, labels=labels))
  arrays = {"images" if samples.ndim == 4 else "samples": samples}  # images uint8 [N, H, W, C]; points [N, D]
  if labels is not None:
    arrays["labels"] = labels
  out.parent.mkdir(parents=True, exist_ok=True)
  np.savez(out, **arrays)
  shown = samples[:100] if samples.ndim == 4 else samples
  viz.save_samples(shown, out.with_suffix(".png"), labels=None if labels is None else labels[:len(shown)])
  print(json.dumps({"out": str(out), "png": str(out.with_suffix(".png")), "shape": list(samples.shape)}))


def _eval(args, overrides: list[str]) -> None:
  import jax

  from gen_jax import data
  from gen_jax.metrics import Judge, sample_quality
  from gen_jax.train.loop import restore_run, run_keys

  config, family, state = restore_run(args.workdir, data_dir=args.data_dir, eval_overrides=overrides)
  test = data.load(config.data)["test"]
  results = {k: float(v) for k, v in family.evaluate(state, test, run_keys(config.seed).eval).items()}
  if args.judge:
    judge = Judge.load(args.judge)
    labels = np.arange(args.num) % judge.num_classes if family.conditional else None
    images = np.asarray(family.draw(state, jax.random.key(args.seed), args.num, labels=labels))
    reference = data.load_mnist(config.data.get("data_dir") or None)["test"]["image"]
    results.update(sample_quality(judge, images, reference, labels=labels))
  results["step"] = int(state.step)
  (Path(args.workdir) / "eval.json").write_text(json.dumps(results, indent=2) + "\n")
  print(json.dumps(results))


def main(argv: list[str] | None = None) -> int:
  args, rest = _parser().parse_known_args(argv)
  overrides = [a[len("--config."):] for a in rest if a.startswith("--config.")]
  unknown = [a for a in rest if not a.startswith("--config.")]
  if unknown or (overrides and args.command not in ("train", "eval", "sample")):
    _parser().error(f"unrecognized arguments: {' '.join(unknown or rest)}")
  try:
    if args.command == "list":
      _list()
    elif args.command == "train":
      _train(args, overrides)
    elif args.command == "sample":
      _sample(args, overrides)
    else:
      _eval(args, overrides)
  except (ValueError, KeyError, TypeError, FileNotFoundError, RuntimeError, FloatingPointError) as error:
    message = error.args[0] if isinstance(error, KeyError) and error.args else error
    print(f"gen-jax: error: {type(error).__name__}: {message}", file=sys.stderr)
    return 2
  return 0


if __name__ == "__main__":
  sys.exit(main())
