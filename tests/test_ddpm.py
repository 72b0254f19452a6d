"""The ddpm family on the engine: learning, seed-invariant sampling, label dropout, EMA, CLI, errors."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import cli, registry
from gen_jax import config as config_lib
from gen_jax.train import loop
from tests.conftest import real_mnist


def ddpm_config(mnist_dir, variant="tiny", *overrides):
  return config_lib.override(config_lib.load("ddpm", variant), [f"data.data_dir={mnist_dir}", *overrides])


@pytest.fixture(scope="module")
def trained(mnist_dir, tmp_path_factory):
  """The tiny conditional config trained once through the engine."""
  workdir = tmp_path_factory.mktemp("ddpm")
  config = ddpm_config(mnist_dir)
  results = loop.train(config, workdir)
  _, family, state = loop.restore_run(workdir)
  return config, workdir, results, family, state


@real_mnist
def test_the_tiny_config_learns_on_real_mnist(trained):
  config, workdir, results, _, _ = trained
  lines = [json.loads(l) for l in (workdir / "metrics.jsonl").read_text().splitlines()]
  train = [l for l in lines if l["split"] == "train"]
  assert train[0]["mse"] > 0.6 and train[-1]["mse"] < 0.75 * train[0]["mse"], (train[0], train[-1])
  assert 0.0 < results["test_bits_per_dim"] < 20 and results["num_examples"] == 32
  assert (workdir / "samples_0000064.png").is_file() and (workdir / "loss_curves.png").is_file()


def same_up_to_rounding(a, b):
  """The same images up to float rounding: XLA's CPU convolutions sum in an order that depends on
  the batch size, so a few pixels may land one uint8 level apart."""
  diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
  assert diff.max() <= 1 and np.mean(diff > 0) < 0.01, (diff.max(), np.mean(diff > 0))


def test_sample_i_does_not_depend_on_the_batch_size(trained, mnist_dir):
  config, workdir, _, family, state = trained
  key = jax.random.key(7)
  ref = family.draw(state, key, 64)  # one chunk of 50, then 14
  for chunk in (1, 7, 64):
    f = registry.build(config_lib.override(config, [f"sample.batch_size={chunk}"]))
    f.init(jax.random.key(0), {"image": np.zeros((1, 28, 28, 1), np.float32), "label": np.zeros(1, np.int32)})
    n = 7 if chunk == 1 else 64  # batch 1: the first 7 samples, one call each
    same_up_to_rounding(f.draw(state, key, n), ref[:n])
  first = family.draw(state, key, 3, labels=np.array([4, 4, 4]))
  assert not np.array_equal(first[0], first[1])  # different seeds, same label


def test_ddim_and_guidance_settings_change_the_samples(trained):
  config, _, _, family, state = trained
  labels = np.arange(8) % 10
  base = family.draw(state, jax.random.key(1), 8, labels=labels)
  for override in ("sample.sampler=ddim", "sample.guidance=0.0", "sample.variance=posterior"):
    f = registry.build(config_lib.override(config, [override]))
    f.init(jax.random.key(0), {"image": np.zeros((1, 28, 28, 1), np.float32), "label": np.zeros(1, np.int32)})
    assert not np.array_equal(f.draw(state, jax.random.key(1), 8, labels=labels), base), override


def test_labels_are_dropped_per_sample_at_the_configured_rate(mnist_dir):
  config = ddpm_config(mnist_dir, "tiny", "diffusion.label_dropout=0.3", "data.batch_size=4000")
  family = registry.build(config)
  x = np.zeros((4000, 4, 4, 1), np.float32)
  batch = {"image": x, "label": np.arange(4000, dtype=np.int32) % 10}
  state = family.init(jax.random.key(0), batch)
  rates = [float(jax.jit(family.update)(state.replace(step=jnp.int32(s)), batch, jax.random.key(1))[1]["label_dropped"])
           for s in range(3)]
  assert all(abs(r - 0.3) < 0.03 for r in rates), rates  # per sample: a fraction, never 0 or 1 per batch


def test_the_ema_follows_its_formula(mnist_dir):
  """θ_ema <- β_t θ_ema + (1 - β_t) θ with the warm-up β_t = min(β, (1 + t)/(10 + t)), t = steps before."""
  config = ddpm_config(mnist_dir, "tiny", "train.ema_decay=0.75")
  family = registry.build(config)
  batch = {"image": np.random.default_rng(0).uniform(-1, 1, (8, 8, 8, 1)).astype(np.float32),
           "label": np.arange(8, dtype=np.int32)}
  state = family.init(jax.random.key(0), batch)
  for step, beta in ((0, 0.1), (100, 0.75)):  # 1/10 at the first step; then β once (1 + t)/(10 + t) > β
    before = state.replace(step=jnp.int32(step))
    new, _ = jax.jit(family.update)(before, batch, jax.random.key(1))
    expected = jax.tree.map(lambda e, p: beta * e + (1 - beta) * p, before.ema_params, new.params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), new.ema_params, expected)
    assert not np.allclose(jax.tree.leaves(new.ema_params)[0], jax.tree.leaves(new.params)[0])


def test_bad_labels_shapes_and_settings_are_clear_errors(trained, mnist_dir, tmp_path, capsys):
  config, workdir, _, family, state = trained
  with pytest.raises(ValueError, match=r"labels must be 3 integers in \[0, 10\)"):
    family.draw(state, jax.random.key(0), 3, labels=np.array([1, 10, 2]))
  with pytest.raises(ValueError, match=r"images \[B, H, W, C\]"):
    registry.build(config).init(jax.random.key(0), {"image": np.zeros((4, 784), np.float32), "label": np.zeros(4, np.int32)})
  with pytest.raises(ValueError, match="labels must be"):
    registry.build(config).init(jax.random.key(0), {"image": np.zeros((2, 8, 8, 1), np.float32),
                                                    "label": np.array([3, 12], np.int32)})
  for override, message in (("sample.sampler=euler", "sample.sampler"), ("data.scale=unit", "symmetric"),
                            ("diffusion.schedule=quadratic", "unknown noise schedule")):
    with pytest.raises(ValueError, match=message):
      registry.build(config_lib.override(config, [override]))
  code = cli.main(["sample", "--workdir", str(workdir), "--num", "2", "--seed", "0", "--out", str(tmp_path / "s.npz"),
                   "--sampler", "ddim", "--steps", "50"])
  assert code == 2 and "DDIM" in capsys.readouterr().err and not (tmp_path / "s.npz").exists()


def test_the_cli_samples_with_ddim_and_guidance(trained, tmp_path, capsys):
  _, workdir, _, _, _ = trained
  out = tmp_path / "s.npz"
  code = cli.main(["sample", "--workdir", str(workdir), "--num", "10", "--seed", "3", "--labels", "0,1",
                   "--sampler", "ddim", "--steps", "5", "--guidance", "2", "--out", str(out)])
  assert code == 0, capsys.readouterr().err
  saved = np.load(out)
  assert saved["images"].shape == (10, 28, 28, 1) and saved["images"].dtype == np.uint8
  np.testing.assert_array_equal(saved["labels"], [0, 1] * 5)
  assert out.with_suffix(".png").is_file()


def test_the_guidance_sweep_scores_each_scale_and_draws_the_png(trained, tiny_run, mnist_dir):
  import importlib.util
  from pathlib import Path

  path = Path(__file__).resolve().parents[1] / "experiments" / "reproduce" / "guidance_sweep.py"
  spec = importlib.util.spec_from_file_location("guidance_sweep", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  _, workdir, _, _, _ = trained
  rows = module.sweep(str(workdir), str(tiny_run), [0.0, 3.0], num=20, sampler="ddim", steps=5, seed=0,
                      data_dir=str(mnist_dir))
  assert [r["guidance"] for r in rows] == [0.0, 3.0]
  assert all(0.0 <= r["conditional_accuracy"] <= 1.0 and r["classifier_fid"] > 0 for r in rows)
  assert rows[0]["classifier_fid"] != rows[1]["classifier_fid"]  # γ changes the samples
  module.plot(rows, workdir / "sweep.png")
  assert (workdir / "sweep.png").stat().st_size > 1000
