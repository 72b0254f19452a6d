"""The engine in-process: one real step, one trace, learning, non-finite guard, mismatch refusal."""

import dataclasses
import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import data, registry
from gen_jax.families import classifier
from gen_jax.train import checkpoint, loop, sharding
from gen_jax.train.logging import NonFiniteError
from tests.conftest import real_mnist, tiny_config


@pytest.fixture(scope="module")
def tiny(mnist_dir):
  config = tiny_config(mnist_dir)
  splits = data.load(config.data)
  return config, registry.build(config), data.Batches(splits["train"], config.data.batch_size, seed=0)


def test_one_real_step(tiny):
  config, family, batches = tiny
  keys = loop.run_keys(0)
  state = family.init(keys.init, batches.batch(0))
  before = jax.tree.map(np.array, state.params)
  new_state, metrics = jax.jit(family.update)(state, batches.batch(0), keys.train)
  assert int(new_state.step) == 1
  assert set(metrics) == {"loss", "accuracy"} and np.isfinite(float(metrics["loss"]))
  assert 1.5 < float(metrics["loss"]) < 3.5  # ~log(10) at initialisation
  moved = [np.max(np.abs(a - np.asarray(b))) for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(new_state.params))]
  assert all(m > 0 for m in moved)


def test_update_is_traced_once_over_many_steps(tiny):
  config, family, batches = tiny
  chex.clear_trace_counter()
  keys = loop.run_keys(0)
  update = jax.jit(chex.assert_max_traces(family.update, n=1), donate_argnums=0)
  state = family.init(keys.init, batches.batch(0))
  for step in range(2 * batches.steps_per_epoch + 3):  # crosses two epoch boundaries
    state, metrics = update(state, batches.batch(step), keys.train)
  assert int(state.step) == 2 * batches.steps_per_epoch + 3


def test_loop_guard_refuses_a_second_trace(tiny):
  config, family, batches = tiny
  mesh = sharding.make_mesh(jax.devices()[:1])
  keys = loop.run_keys(0)
  update = loop.compile_update(family.update, mesh)
  state, _ = update(sharding.replicate(family.init(keys.init, batches.batch(0)), mesh), batches.batch(0), keys.train)
  smaller = {k: v[:32] for k, v in batches.batch(1).items()}
  with pytest.raises(RuntimeError, match="traced a second time"):
    update(state, smaller, keys.train)


def test_per_step_keys_differ_and_repeat(tiny):
  from gen_jax.train.step import step_key
  key = jax.random.key(0)
  draw = lambda s: jax.random.uniform(step_key(key, jnp.int32(s)))
  assert float(draw(3)) == float(draw(3)) != float(draw(4))


def test_update_draws_its_dropout_from_the_step(tiny):
  """Same parameters, batch and run key: the step number alone changes the dropout masks,
  and the same step gives the same numbers (what exact resume relies on)."""
  config, family, batches = tiny
  assert config.net.dropout > 0
  keys = loop.run_keys(0)
  state = family.init(keys.init, batches.batch(0))
  update = jax.jit(family.update)
  at = lambda step: update(state.replace(step=jnp.int32(step)), batches.batch(0), keys.train)
  (a, metrics_a), (b, metrics_b), (c, metrics_c) = at(3), at(3), at(4)
  chex.assert_trees_all_equal(a.params, b.params)
  assert float(metrics_a["loss"]) == float(metrics_b["loss"]) != float(metrics_c["loss"])
  assert not np.array_equal(np.asarray(a.params["Dense_0"]["kernel"]), np.asarray(c.params["Dense_0"]["kernel"]))


@real_mnist
def test_tiny_config_learns_real_mnist(tiny_run):
  results = json.loads((tiny_run / "eval.json").read_text())
  assert results["step"] == 64 and results["test_accuracy"] > 0.6  # chance is 0.1
  for name in ("metrics.jsonl", "config.json", "loss_curves.png"):
    assert (tiny_run / name).is_file()
  assert list(tiny_run.glob("events.out.tfevents.*"))


@registry.register("nan_after_20")
def _build_nan_after_20(config, *, axis_name=None):
  """The classifier, with its loss poisoned from step 20 on: a reproducible divergence."""
  base = classifier.build(config, axis_name=axis_name)

  def update(state, batch, key):
    new_state, metrics = base.update(state, batch, key)
    poison = jnp.where(state.step >= 20, jnp.float32(jnp.nan), jnp.float32(0))
    return new_state, {**metrics, "loss": metrics["loss"] + poison}

  return dataclasses.replace(base, name="nan_after_20", update=update)


def test_non_finite_loss_stops_with_clear_error_and_keeps_checkpoints(mnist_dir, tmp_path):
  config = tiny_config(mnist_dir, "model=nan_after_20")
  with pytest.raises(NonFiniteError) as info:
    loop.train(config, tmp_path)
  message = str(info.value)
  assert "non-finite loss at step 21" in message and "Last good checkpoint: step 16" in message
  assert sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit()) == [16]
  _, _, state = loop.restore_run(tmp_path)
  assert int(state.step) == 16 and bool(loop.all_finite(state))


def test_mismatched_restore_is_refused_and_nothing_is_touched(mnist_dir, tiny_run, tmp_path):
  import shutil
  workdir = tmp_path / "run"
  shutil.copytree(tiny_run, workdir)
  before = {p: p.stat().st_mtime_ns for p in workdir.rglob("*")}
  with pytest.raises(checkpoint.CheckpointMismatchError) as info:
    loop.train(tiny_config(mnist_dir, "net.hidden=[32]"), workdir)
  assert "config net.hidden" in str(info.value) and "[64]" in str(info.value)
  with pytest.raises(checkpoint.CheckpointMismatchError, match="optimizer.name"):
    loop.train(tiny_config(mnist_dir, "optimizer.name=adam"), workdir)
  assert {p: p.stat().st_mtime_ns for p in workdir.rglob("*")} == before


def test_shape_mismatch_is_refused_even_with_equal_config(mnist_dir, tiny_run, tmp_path):
  config = tiny_config(mnist_dir)
  ckpt = checkpoint.Checkpointer(tiny_run, config, keep=3)
  family = registry.build(tiny_config(mnist_dir, "net.hidden=[32]"))
  wrong = jax.eval_shape(family.init, loop.run_keys(0).init, {"image": np.zeros((1, 28, 28, 1), np.float32)})
  with pytest.raises(checkpoint.CheckpointMismatchError, match=r"state \.params\['Dense_0'\]\['kernel'\]"):
    ckpt.restore(wrong)
  ckpt.close()


def test_batch_size_must_divide_device_count():
  mesh = sharding.make_mesh(jax.devices()[:1])
  sharding.check_batch_size(7, mesh)
  fake = type("M", (), {"size": 8})()
  with pytest.raises(ValueError, match="divisible by the number of devices"):
    sharding.check_batch_size(12, fake)


@pytest.mark.skipif(jax.default_backend() != "cpu",
                    reason="CPU only: on GPU/TPU XLA uses no host BLAS, and xla_owns_the_cores does nothing")
def test_blas_threads_are_held_to_one_only_inside_the_block():
  """XLA's LAPACK calls share SciPy's OpenBLAS, whose spinning threads would slow XLA on CPU."""
  threadpoolctl = pytest.importorskip("threadpoolctl")
  from gen_jax.train.threads import xla_owns_the_cores

  jnp.linalg.cholesky(jnp.eye(3)).block_until_ready()  # loads the BLAS behind jax's LAPACK calls
  before = {p["filepath"]: p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"}
  assert before, "no BLAS library found"
  with xla_owns_the_cores():
    inside = {p["filepath"]: p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"}
  after = {p["filepath"]: p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"}
  assert set(inside.values()) == {1}
  assert after == before
