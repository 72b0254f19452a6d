"""Progress bar, metrics.jsonl, TensorBoard events, and the non-finite guard."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import jax
import numpy as np
import tqdm


class NonFiniteError(FloatingPointError):
  """A metric became NaN or infinite; training stopped before saving anything from it."""


class MetricLogger:
  """Collects per-step device metrics; every flush checks them and writes their mean.

  Device metrics are only fetched at a flush, so the host does not stall the device between
  logging steps.
  """

  def __init__(self, workdir: Path, *, start_step: int, total_steps: int, batch_size: int,
               progress_bar: bool = True):
    from tensorboardX import SummaryWriter  # TensorBoard events without TensorFlow

    self.jsonl = open(Path(workdir) / "metrics.jsonl", "a")
    self.events = SummaryWriter(logdir=str(workdir), flush_secs=30)
    self.bar = tqdm.tqdm(total=total_steps, initial=start_step, disable=not progress_bar,
                         dynamic_ncols=True, unit="step")
    self.batch_size, self.pending = batch_size, []
    self.last_step, self.last_time = start_step, time.perf_counter()

  def record(self, step: int, metrics: dict) -> None:
    self.pending.append((step, metrics))

  def flush(self, step: int) -> dict | None:
    """Checks and writes the metrics since the last flush; raises NonFiniteError on NaN/inf."""
    if not self.pending:
      return None
    steps, values = zip(*self.pending)
    values = jax.device_get(list(values))
    self.pending = []
    for s, metrics in zip(steps, values):
      bad = [k for k, v in metrics.items() if not np.all(np.isfinite(v))]
      if bad:
        raise NonFiniteError(f"non-finite {', '.join(bad)} at step {s}")
    now = time.perf_counter()
    mean = {k: float(np.mean([m[k] for m in values])) for k in values[0]}
    mean["examples_per_sec"] = self.batch_size * (step - self.last_step) / max(now - self.last_time, 1e-9)
    self.last_step, self.last_time = step, now
    self.write(step, mean, prefix="train")
    self.bar.set_postfix(loss=f"{mean.get('loss', math.nan):.4f}", ex_s=f"{mean['examples_per_sec']:.0f}")
    self.bar.update(step - self.bar.n)
    return mean

  def write(self, step: int, metrics: dict, *, prefix: str) -> None:
    self.jsonl.write(json.dumps({"step": step, "split": prefix, **metrics}) + "\n")
    self.jsonl.flush()
    for key, value in metrics.items():
      self.events.add_scalar(f"{prefix}/{key}", value, step)

  def close(self) -> None:
    self.bar.close()
    self.jsonl.close()
    self.events.close()


def read_metrics(workdir: Path) -> list[dict]:
  path = Path(workdir) / "metrics.jsonl"
  return [json.loads(line) for line in path.read_text().splitlines() if line] if path.exists() else []
