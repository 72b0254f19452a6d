"""`train(config, workdir)`: the one loop every model family runs through.

The loop knows nothing of any family: it asks the registry for a `Family`, feeds it
deterministic batches on a data-parallel mesh, and checkpoints, logs, samples and evaluates.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gen_jax import config as config_lib
from gen_jax import data, precision, registry, viz
from gen_jax.train import checkpoint, sharding
from gen_jax.train.threads import xla_owns_the_cores
from gen_jax.train.logging import MetricLogger, NonFiniteError, read_metrics


class RunKeys(NamedTuple):
  init: jax.Array    # parameter initialisation
  train: jax.Array   # per-step keys: fold_in(train, step) inside the update
  sample: jax.Array  # sample grids written during training
  eval: jax.Array    # evaluation


def run_keys(seed: int) -> RunKeys:
  return RunKeys(*jax.random.split(jax.random.key(seed), 4))


def total_steps(train_cfg, steps_per_epoch: int) -> int:
  if train_cfg.get("num_steps", -1) and train_cfg.num_steps > 0:
    return train_cfg.num_steps
  return train_cfg.num_epochs * steps_per_epoch


def compile_update(update_fn, mesh, matmul_precision: str = "default"):
  """jit with the state donated and replicated, its products traced at `matmul_precision`
  (an exact family update stays exact); raises if the update is ever traced twice."""
  traces = 0

  def traced_once(state, batch, key):
    nonlocal traces
    traces += 1
    if traces > 1:
      raise RuntimeError("the update was traced a second time: a batch or state changed shape or dtype")
    with precision.scope(matmul_precision):
      return update_fn(state, batch, key)

  repl = sharding.replicated(mesh)
  return jax.jit(traced_once, donate_argnums=0, out_shardings=(repl, repl))


@jax.jit
def all_finite(tree) -> jax.Array:
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


def restore_or_init(family, ckpt, key, example, mesh):
  """The latest checkpoint of the workdir if there is one (checked), else a fresh init."""
  abstract = jax.eval_shape(family.init, key, example)
  state = ckpt.restore(abstract, sharding.replicated(mesh))
  return state if state is not None else sharding.replicate(family.init(key, example), mesh)


def write_samples(family, state, key, workdir: Path, step: int, num: int = 64) -> None:
  """samples_<step>.png: 64 samples, or for a conditional family one row of 10 per label 0-9."""
  path = workdir / f"samples_{step:07d}.png"
  if not family.conditional:
    return viz.save_samples(np.asarray(family.draw(state, key, num)), path)
  labels = np.repeat(np.arange(10), 10)
  viz.save_grid(np.asarray(family.draw(state, key, len(labels), labels=jnp.asarray(labels))), path, columns=10)


@xla_owns_the_cores()
def train(config: ml_collections.ConfigDict, workdir: str | Path) -> dict:
  """Trains (or resumes) `config.model` in `workdir`; returns the final evaluation."""
  family = registry.build(config)
  matmul_precision = precision.check(config.get("matmul_precision", "default"))
  splits = data.load(config.data)  # fails before anything is written when data are missing
  workdir = Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  batches = data.Batches(splits["train"], config.data.batch_size, seed=config.seed)
  mesh = sharding.make_mesh()
  sharding.check_batch_size(batches.batch_size, mesh)
  keys = run_keys(config.seed)
  example = batches.batch(0)
  ckpt = checkpoint.Checkpointer(workdir, config, keep=config.train.keep_checkpoints,
                                 batch_spec=checkpoint.batch_spec(example))
  state = restore_or_init(family, ckpt, keys.init, example, mesh)
  config_lib.save_json(config, workdir / "config.json")
  update = compile_update(family.update, mesh, matmul_precision)
  cfg, total, start = config.train, total_steps(config.train, batches.steps_per_epoch), int(state.step)
  logger = MetricLogger(workdir, start_step=start, total_steps=total, batch_size=batches.batch_size,
                        progress_bar=cfg.progress_bar)
  try:
    for step in range(start, total):
      state, metrics = update(state, sharding.shard_batch(batches.batch(step), mesh), keys.train)
      done = step + 1
      logger.record(done, metrics)
      # a family may stop early (EM's `converged`): read at every step, not only when logging
      last = done == total or ("converged" in metrics and bool(metrics["converged"]))
      if done % cfg.log_every == 0 or last:
        logger.flush(done)
      if done % cfg.checkpoint_every == 0 or last:
        logger.flush(done)
        if not bool(all_finite(state)):
          raise NonFiniteError(f"non-finite parameters after step {done}")
        ckpt.save(state)
      if cfg.sample_every > 0 and (done % cfg.sample_every == 0 or last):
        logger.flush(done)
        viz.plot_curves(read_metrics(workdir), workdir / "loss_curves.png")  # so far: every player's losses
        if family.sample is not None:
          write_samples(family, state, keys.sample, workdir, done)
      if last:
        break
    ckpt.wait()
  except NonFiniteError as error:
    ckpt.wait()
    latest = ckpt.latest_step()
    where = f"step {latest} in {ckpt.directory}" if latest is not None else "none was written yet"
    raise NonFiniteError(f"training stopped: {error}. Last good checkpoint: {where} (kept).") from None
  finally:
    logger.close()
    ckpt.close()
  return finish(family, state, splits, keys.eval, workdir)


def finish(family, state, splits, key, workdir: Path) -> dict:
  """Evaluates on the test split; writes eval.json, the loss curves and the family's report."""
  results = {k: float(v) for k, v in family.evaluate(state, splits["test"], key).items()}
  results["step"] = int(state.step)
  (workdir / "eval.json").write_text(json.dumps(results, indent=2) + "\n")
  with open(workdir / "metrics.jsonl", "a") as f:
    f.write(json.dumps({"split": "eval", **results}) + "\n")
  viz.plot_curves(read_metrics(workdir), workdir / "loss_curves.png")
  if family.report is not None:
    family.report(state, splits["train"], workdir)
  return results


def restore_run(workdir: str | Path, *, data_dir: str | None = None, eval_overrides: list[str] = ()):
  """(config, family, state) of a run in `workdir`, from its latest checkpoint (checked).
  `eval_overrides` ("eval.KEY=VALUE", "sample.KEY=VALUE") change evaluation and sampling
  settings only."""
  workdir = Path(workdir)
  if not (workdir / "config.json").is_file():
    raise FileNotFoundError(f"{workdir} is not a gen-jax run: it has no config.json")
  config = config_lib.load_json(workdir / "config.json")
  if data_dir:
    config.data.data_dir = str(data_dir)
  not_eval = [o for o in eval_overrides if not o.startswith(config_lib.RESUMABLE_PREFIXES)]
  if not_eval:
    raise ValueError(f"eval and sample accept only --config.eval.KEY=VALUE and --config.sample.KEY=VALUE "
                     f"overrides (evaluation and sampling settings), got {not_eval}")
  config = config_lib.override(config, list(eval_overrides))
  family = registry.build(config)
  ckpt = checkpoint.Checkpointer(workdir, config, keep=config.train.keep_checkpoints)
  if ckpt.latest_step() is None:
    raise FileNotFoundError(f"{workdir} has no checkpoint yet")
  example = checkpoint.example_from_spec(ckpt.read_meta()["batch"])
  abstract = jax.eval_shape(family.init, run_keys(config.seed).init, example)
  state = ckpt.restore(abstract, sharding.replicated(sharding.make_mesh()))
  ckpt.close()
  return config, family, state
