"""How much a class-conditional likelihood model uses its label, read off its exact test NLL.

    python experiments/reproduce/label_use.py --workdir runs/gated [--num 1000] [--data-dir DIR]

For the first `--num` fixed-binarized test images x with digit y, the run's model gives
log p(x | c) for every class c. Printed as one JSON line (and WORKDIR/label_use.json):

  nll_true_label      −mean log p(x | y)
  nll_next_label      −mean log p(x | (y + 1) mod K): the cost of a wrong label
  nll_label_mixture   −mean log (1/K) Σ_c p(x | c): the unconditional model the run implies
  generative_accuracy mean [argmax_c log p(x | c) = y]: the model as a Bayes classifier

A model that ignores its label has nll_true_label = nll_next_label and accuracy 1/K; the label
is worth at most log K nats (2.30 for digits) between nll_true_label and nll_label_mixture.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--workdir", required=True, help="a trained conditional autoregressive run")
  parser.add_argument("--num", type=int, default=1000, help="test images scored")
  parser.add_argument("--batch", type=int, default=250, help="images per compiled call")
  parser.add_argument("--data-dir", default=None)
  args = parser.parse_args()

  import jax

  from gen_jax import data
  from gen_jax.families.autoregressive import MODELS
  from gen_jax import precision
  from gen_jax.train.loop import restore_run

  config, family, state = restore_run(args.workdir, data_dir=args.data_dir)
  num_classes = int(config.net.get("num_classes", 0))
  if config.model not in MODELS or not num_classes:
    raise SystemExit(f"{args.workdir}: needs a conditional autoregressive run (net.num_classes > 0), "
                     f"got model {config.model!r} with num_classes={num_classes}")
  test = data.load(config.data)["test"]
  x = np.asarray(test["image"][:args.num])
  y = np.asarray(test["label"][:args.num], np.int32)
  bits = data.fixed_binarized(x, seed=config.eval.binarization_seed).reshape(len(x), -1)
  model = MODELS[config.model](config, tuple(x.shape[1:]))
  log_prob = jax.jit(precision.exact(lambda p, b, c: model.test_log_prob(p, b, labels=c)))

  def scores(c):  # [N] log p(x | c) for one class c; padded chunks, so one compile
    arrays = {"x": bits, "c": np.full(len(bits), c, np.int32)}
    return np.asarray(data.batched_apply(lambda b: log_prob(state.params, b["x"], b["c"]), arrays, args.batch),
                      np.float64)

  log_p = np.stack([scores(c) for c in range(num_classes)], axis=1)  # [N, K]
  rows = np.arange(len(y))
  mixture = np.logaddexp.reduce(log_p, axis=1) - np.log(num_classes)
  results = {"num_examples": len(y), "step": int(state.step),
             "nll_true_label": float(-log_p[rows, y].mean()),
             "nll_next_label": float(-log_p[rows, (y + 1) % num_classes].mean()),
             "nll_label_mixture": float(-mixture.mean()),
             "generative_accuracy": float((log_p.argmax(axis=1) == y).mean())}
  (Path(args.workdir) / "label_use.json").write_text(json.dumps(results, indent=2) + "\n")
  print(json.dumps(results))


if __name__ == "__main__":
  main()
