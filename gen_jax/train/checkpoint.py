"""Checkpoints with orbax `CheckpointManager`, refusing any mismatched restore.

Each checkpoint holds two items: `state` (the TrainState) and `meta` (JSON): the structural
config, the shape and dtype of every state leaf, and the shapes of a batch. Before restoring,
`meta` is compared with what the current run expects; any difference is reported key by key
and nothing is loaded. The data position needs no extra item: it is `state.step`.
"""

from __future__ import annotations

from pathlib import Path

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from gen_jax import config as config_lib


class CheckpointMismatchError(ValueError):
  """The checkpoint in the workdir does not fit the config or the state being restored."""


def describe(tree) -> dict[str, list]:
  """{leaf path: [shape, dtype]} of a pytree of arrays or ShapeDtypeStructs."""
  leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
  return {jax.tree_util.keystr(path): [list(x.shape), str(x.dtype)] for path, x in leaves}


def _diff(saved: dict, wanted: dict, what: str, limit: int = 12) -> list[str]:
  lines = []
  for key in sorted(set(saved) | set(wanted)):
    if saved.get(key, "<absent>") != wanted.get(key, "<absent>"):
      lines.append(f"  {what} {key}: checkpoint has {saved.get(key, '<absent>')}, "
                   f"this run has {wanted.get(key, '<absent>')}")
  return lines[:limit] + ([f"  ... and {len(lines) - limit} more"] if len(lines) > limit else [])


class Checkpointer:
  """Saves every step it is asked to, keeps the last `keep`, restores the latest."""

  def __init__(self, workdir: str | Path, config: ml_collections.ConfigDict, *, keep: int,
               batch_spec: dict | None = None):
    self.directory = Path(workdir).absolute() / "checkpoints"
    self.config, self.batch_spec = config, batch_spec or {}
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True)
    self.manager = ocp.CheckpointManager(self.directory, options=options, item_names=("state", "meta"))

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def save(self, state) -> None:
    step = int(state.step)
    meta = {"config": config_lib.structural(self.config), "state": describe(state),
            "batch": self.batch_spec, "step": step}
    self.manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                    meta=ocp.args.JsonSave(meta)), force=True)

  def read_meta(self, step: int | None = None) -> dict:
    step = self.latest_step() if step is None else step
    return self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]

  def restore(self, abstract_state, sharding=None):
    """The latest state, or None when the workdir has no checkpoint. Refuses mismatches."""
    step = self.latest_step()
    if step is None:
      return None
    meta = self.read_meta(step)
    saved = {k: v for k, v in meta["config"].items() if config_lib.is_structural(k)}  # older checkpoints kept more
    problems = _diff(saved, config_lib.structural(self.config), "config")
    problems += _diff(meta["state"], describe(abstract_state), "state")
    if problems:
      raise CheckpointMismatchError(
          f"refusing to restore {self.directory}/{step}: it does not match this run.\n"
          + "\n".join(problems)
          + "\nUse another --workdir, or the config the checkpoint was written with.")
    if sharding is not None:
      abstract_state = jax.tree.map(
          lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), abstract_state)
    restored = self.manager.restore(
        step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract_state)))
    return restored["state"]

  def wait(self) -> None:
    self.manager.wait_until_finished()

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()


def batch_spec(batch: dict) -> dict:
  return {k: [list(np.shape(v)), str(np.asarray(v).dtype)] for k, v in batch.items()}


def example_from_spec(spec: dict) -> dict:
  return {k: np.zeros(shape, dtype) for k, (shape, dtype) in spec.items()}
