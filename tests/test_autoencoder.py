"""The autoencoder family: learning, hand-computed losses, step-keyed noise, AUROC, report, refusals."""

import json
import math

import chex
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import ml_collections
import numpy as np
import pytest

from gen_jax import cli, data, registry
from gen_jax import config as config_lib
from gen_jax.families import autoencoder as ae
from gen_jax.metrics.ranking import auroc, average_ranks
from gen_jax.train import loop
from gen_jax.train.step import step_key
from tests.conftest import real_mnist


def tiny_ae_config(mnist_dir, *overrides: str) -> ml_collections.ConfigDict:
  config = config_lib.load("autoencoder", "tiny")
  return config_lib.override(config, [f"data.data_dir={mnist_dir}", *overrides])


@pytest.fixture(scope="module")
def tiny_ae_run(mnist_dir, tmp_path_factory):
  """The tiny autoencoder trained once through the engine's loop."""
  workdir = tmp_path_factory.mktemp("tiny_ae_run")
  config = tiny_ae_config(mnist_dir)
  return config, workdir, loop.train(config, workdir)


@real_mnist
def test_tiny_config_learns_mnist(tiny_ae_run):
  config, workdir, results = tiny_ae_run
  splits = data.load(config.data)
  mean_image = splits["train"]["image"].mean(0)  # the best constant reconstruction
  baseline = float(np.mean((splits["test"]["image"] - mean_image) ** 2))
  assert results["step"] == 100
  assert results["test_mse"] < 0.7 * baseline, (results, baseline)
  assert results == pytest.approx(json.loads((workdir / "eval.json").read_text()))
  assert "anomaly_auroc" not in results  # no train_labels: no anomaly score


def test_sparsity_penalties_match_hand_values():
  codes = jnp.array([[0.1, 0.2], [0.3, 0.4]])  # [B=2, D=2]: rates ρ̂ = (0.2, 0.3)
  rho = 0.1
  kl = lambda r: rho * math.log(rho / r) + (1 - rho) * math.log((1 - rho) / (1 - r))
  np.testing.assert_allclose(ae.kl_sparsity_penalty(codes, rho), kl(0.2) + kl(0.3), rtol=1e-5)
  assert float(ae.kl_sparsity_penalty(jnp.full((3, 4), rho), rho)) == pytest.approx(0.0, abs=1e-6)
  signed = jnp.array([[1.0, -2.0], [3.0, -4.0]])
  assert float(ae.l1_penalty(signed)) == pytest.approx(2.5)  # (1 + 2 + 3 + 4) / 4
  loss = ml_collections.ConfigDict({"sparsity": "l1", "sparsity_weight": 0.5, "sparsity_target": rho})
  assert float(ae.sparsity_penalty(signed, loss)) == pytest.approx(1.25)
  loss.sparsity, loss.sparsity_weight = "kl", 3.0
  assert float(ae.sparsity_penalty(codes, loss)) == pytest.approx(3 * (kl(0.2) + kl(0.3)), rel=1e-5)
  loss.sparsity = "none"
  assert float(ae.sparsity_penalty(codes, loss)) == 0.0


def test_reconstruction_errors_match_hand_values():
  logits = jnp.zeros((1, 2, 2, 1))  # σ(0) = 1/2 everywhere
  target = jnp.array([1.0, 0.0, 1.0, 0.5]).reshape(1, 2, 2, 1)
  np.testing.assert_allclose(ae.reconstruction_error(logits, target, "bce"), [4 * math.log(2)], rtol=1e-6)
  np.testing.assert_allclose(ae.reconstruction_error(logits, target, "mse"), [(0.25 * 3 + 0) / 4], rtol=1e-6)


@pytest.mark.parametrize("noise", ["gaussian", "masking", "salt_pepper"])
def test_corruptions_stay_in_the_unit_interval_and_follow_the_key(noise):
  images = jax.random.uniform(jax.random.key(1), (8, 6, 6, 1))
  a = ae.corrupt(images, jax.random.key(2), noise, 0.3)
  assert a.shape == images.shape and float(a.min()) >= 0 and float(a.max()) <= 1
  chex.assert_trees_all_equal(a, ae.corrupt(images, jax.random.key(2), noise, 0.3))
  assert not np.array_equal(a, ae.corrupt(images, jax.random.key(3), noise, 0.3))
  changed = float(np.mean(np.asarray(a) != np.asarray(images)))
  assert changed > 0.2 if noise == "gaussian" else 0.2 < changed < 0.4  # ~30% of pixels hit
  chex.assert_trees_all_equal(ae.corrupt(images, jax.random.key(2), "none", 0.3), images)


def test_denoising_noise_comes_from_the_step_key_and_the_target_is_clean(mnist_dir):
  config = tiny_ae_config(mnist_dir, "loss.noise=gaussian", "loss.noise_level=0.5")
  family = registry.build(config)
  batch = data.Batches(data.load(config.data)["train"], 50, seed=0).batch(0)
  keys = loop.run_keys(0)
  state = family.init(keys.init, batch)
  at = lambda step: jax.jit(family.update)(state.replace(step=jnp.int32(step)), batch, keys.train)[1]
  m3, m3_again, m4 = at(3), at(3), at(4)
  assert float(m3["loss"]) == float(m3_again["loss"]) != float(m4["loss"])
  # the loss recomputed by hand: noise from fold_in(train key, step 3), the clean batch as target
  noisy = ae.corrupt(jnp.asarray(batch["image"]), step_key(keys.train, jnp.int32(3)), "gaussian", 0.5)
  logits, _ = ae.make_model(config, (28, 28, 1)).apply({"params": state.params}, noisy)
  clean_target = ae.reconstruction_error(logits, batch["image"], "bce").mean()
  noisy_target = ae.reconstruction_error(logits, noisy, "bce").mean()
  assert float(m3["reconstruction"]) == pytest.approx(float(clean_target), rel=1e-5)
  assert float(m3["reconstruction"]) != pytest.approx(float(noisy_target), rel=1e-5)  # not the noisy target
  plain = registry.build(tiny_ae_config(mnist_dir))  # no noise: the step does not matter
  at = lambda step: jax.jit(plain.update)(state.replace(step=jnp.int32(step)), batch, keys.train)[1]
  assert float(at(3)["loss"]) == float(at(4)["loss"])


def test_auroc_against_a_hand_computation():
  scores = np.array([0.1, 0.4, 0.35, 0.8, 0.4])
  positive = np.array([0, 0, 1, 1, 1])
  # pairs (positive, negative): (0.35, 0.1) 1, (0.35, 0.4) 0, (0.8, ·) 1 + 1, (0.4, 0.1) 1, (0.4, 0.4) ½
  assert auroc(scores, positive) == pytest.approx(4.5 / 6)
  np.testing.assert_allclose(average_ranks(scores), [1, 3.5, 2, 5, 3.5])
  assert auroc([1, 2, 3, 4], [0, 0, 1, 1]) == 1.0 and auroc([1, 2, 3, 4], [1, 1, 0, 0]) == 0.0
  assert auroc([5, 5, 5], [1, 0, 1]) == 0.5
  with pytest.raises(ValueError, match="both classes"):
    auroc([1, 2], [1, 1])


def test_report_writes_its_pngs(tiny_ae_run, mnist_dir, tmp_path):
  _, workdir, _ = tiny_ae_run
  for name in ("reconstructions.png", "latent_space.png", "loss_curves.png"):
    assert (workdir / name).is_file()
  assert not (workdir / "denoising.png").exists() and not (workdir / "anomaly_scores.png").exists()
  assert plt.imread(workdir / "reconstructions.png").shape[:2] == (2 * 30 + 2, 16 * 30 + 2)  # 2 rows x 16
  config = tiny_ae_config(mnist_dir, "loss.noise=masking", "loss.noise_level=0.5",
                          "data.train_labels=(0, 1, 2, 3, 4, 5, 6, 7, 8)")
  family, splits = registry.build(config), data.load(config.data)
  state = family.init(loop.run_keys(0).init, {"image": splits["train"]["image"][:2]})
  assert 9 not in splits["train"]["label"] and 9 in splits["test"]["label"]
  results = family.evaluate(state, splits["test"], None)
  assert 0 <= results["anomaly_auroc"] <= 1 and results["test_mse"] > 0
  family.report(state, splits["train"], tmp_path)
  names = {"reconstructions.png", "latent_space.png", "denoising.png", "anomaly_scores.png"}
  assert names <= {p.name for p in tmp_path.iterdir()}
  assert plt.imread(tmp_path / "denoising.png").shape[:2] == (3 * 30 + 2, 16 * 30 + 2)  # noisy/clean/out


def test_sample_from_an_autoencoder_says_it_cannot(tiny_ae_run, tmp_path, capsys):
  _, workdir, _ = tiny_ae_run
  code = cli.main(["sample", "--workdir", str(workdir), "--num", "4", "--seed", "0", "--out", str(tmp_path / "s.npz")])
  _, err = capsys.readouterr()
  assert code == 2 and "cannot sample" in err and not (tmp_path / "s.npz").exists()


def test_a_batch_that_is_not_images_is_refused_clearly(mnist_dir):
  family = registry.build(tiny_ae_config(mnist_dir))
  with pytest.raises(ValueError, match=r"\[B, H, W, C\].*\[4, 784\]"):
    family.init(jax.random.key(0), {"image": np.zeros((4, 784), np.float32)})
  with pytest.raises(ValueError, match="loss.noise"):
    registry.build(tiny_ae_config(mnist_dir, "loss.noise=pink"))


def test_conv_autoencoder_learns_other_image_shapes(mnist_dir):
  config = tiny_ae_config(mnist_dir, "net.arch=conv", "net.encoder_widths=(8,)",
                          "net.decoder_widths=(8,)", "optimizer.learning_rate=3e-3")
  family = registry.build(config)
  images = jax.random.uniform(jax.random.key(0), (16, 16, 16, 3))  # [B, 16, 16, 3]
  batch = {"image": np.asarray(images), "label": np.zeros(16, np.int32)}
  state = family.init(jax.random.key(1), batch)
  update = jax.jit(family.update)
  losses = []
  for _ in range(15):
    state, metrics = update(state, batch, jax.random.key(2))
    losses.append(float(metrics["loss"]))
  assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
  logits, codes = ae.make_model(config, (16, 16, 3)).apply({"params": state.params}, images)
  chex.assert_shape([logits, codes], [(16, 16, 16, 3), (16, 16)])
  results = family.evaluate(state, batch, None)
  assert np.isfinite(results["test_mse"]) and results["test_bce"] > 0
