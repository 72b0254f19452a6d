"""Classifier guidance: the ε correction's formula, the noisy classifier on the engine, guided
sampling of an unconditional diffusion run, and the refusals (wrong run, wrong schedule)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import cli, registry
from gen_jax import config as config_lib
from gen_jax.diffusion import sampling
from gen_jax.diffusion.schedules import make_schedule
from gen_jax.families.noisy_classifier import load_guide
from gen_jax.train import loop
from tests.conftest import real_mnist


def test_the_correction_is_minus_s_sigma_t_times_the_gradient():
  """log p(y | x) = -||x - μ||²/2 has ∇ = μ - x, so ε̂' = ε̂ - s √(1 - ᾱ_t) (μ - x), per sample t."""
  s = make_schedule("linear", 50)
  x = jax.random.normal(jax.random.key(0), (3, 4, 4, 1))
  mu = jnp.full((3, 4, 4, 1), 0.5)
  t = jnp.array([1, 20, 50], jnp.int32)
  eps = lambda x, t: 0.1 * x
  guided = sampling.classifier_guided(eps, lambda x, t: -0.5 * jnp.sum((x - mu) ** 2, axis=(1, 2, 3)), s, 2.0)
  sigma = np.sqrt(1.0 - np.asarray(s.alpha_bar, np.float64)[np.asarray(t)])[:, None, None, None]
  expected = 0.1 * np.asarray(x) - 2.0 * sigma * (np.asarray(mu) - np.asarray(x))
  np.testing.assert_allclose(guided(x, t), expected, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(sampling.classifier_guided(eps, lambda x, t: -jnp.sum(x ** 2, (1, 2, 3)), s, 0.0)(x, t),
                             eps(x, t))


BETA_T = 0.2


@pytest.fixture(scope="module")
def runs(mnist_dir, tmp_path_factory):
  """A tiny unconditional diffusion run and a tiny noisy classifier for its schedule (β_T = 0.2:
  with T = 20 steps, x_T is then mostly noise, ᾱ_T ≈ 0.1)."""
  root = tmp_path_factory.mktemp("guidance")
  noisier = [f"data.data_dir={mnist_dir}", f"diffusion.beta_T={BETA_T}"]
  ddpm = config_lib.override(config_lib.load("ddpm", "tiny"), [*noisier, "net.num_classes=0"])
  loop.train(ddpm, root / "ddpm")
  guide = config_lib.override(config_lib.load("noisy_classifier", "tiny"), noisier)
  results = loop.train(guide, root / "guide")
  return root, results


@real_mnist
def test_the_noisy_classifier_learns_and_is_surer_of_cleaner_images(runs):
  root, results = runs
  lines = [json.loads(l) for l in (root / "guide" / "metrics.jsonl").read_text().splitlines()]
  train = [l for l in lines if l["split"] == "train"]
  assert train[-1]["loss"] < 0.9 * train[0]["loss"], (train[0], train[-1])
  assert results["test_accuracy_t1"] > 0.5 and results["test_accuracy_t1"] > results["test_accuracy_t20"] + 0.2, results


def guided(root, scale, *extra):
  overrides = [f"sample.classifier_workdir={root / 'guide'}", f"sample.classifier_scale={scale}", *extra]
  return loop.restore_run(root / "ddpm", eval_overrides=overrides)


def test_guidance_raises_the_classifier_probability_of_the_requested_labels(runs):
  root, _ = runs
  labels = np.arange(40) % 10
  config, _, _ = guided(root, 0.0)
  log_p, params, _ = load_guide(root / "guide", config.diffusion, (28, 28, 1))
  scores = {}
  for scale in (0.0, 20.0):
    _, family, state = guided(root, scale)
    assert family.conditional  # classifier guidance makes any run take labels
    x = np.asarray(family.draw(state, jax.random.key(3), 40, labels=labels), np.float32) / 127.5 - 1.0
    scores[scale] = float(jnp.mean(log_p(params, jnp.asarray(x), jnp.ones(40, jnp.int32), jnp.asarray(labels))))
  assert scores[20.0] > scores[0.0] + 0.5, scores


def test_scale_zero_is_the_unguided_sampler(runs):
  root, _ = runs
  _, plain, state = loop.restore_run(root / "ddpm")
  _, family, _ = guided(root, 0.0)
  a = np.asarray(plain.draw(state, jax.random.key(5), 6)).astype(np.int16)
  b = np.asarray(family.draw(state, jax.random.key(5), 6, labels=np.arange(6))).astype(np.int16)
  assert np.abs(a - b).max() <= 1


def test_cli_samples_with_a_classifier(runs, tmp_path, capsys):
  root, _ = runs
  out = tmp_path / "g.npz"
  cli.main(["sample", "--workdir", str(root / "ddpm"), "--num", "4", "--seed", "0", "--labels", "7",
            "--out", str(out), "--classifier", str(root / "guide"), "--classifier-scale", "3", "--sampler", "ddim"])
  saved = np.load(out)
  assert saved["images"].shape == (4, 28, 28, 1) and list(saved["labels"]) == [7, 7, 7, 7]


def test_a_classifier_for_another_schedule_or_not_a_noisy_classifier_is_refused(runs, mnist_dir, tmp_path):
  root, _ = runs
  config, _, _ = guided(root, 1.0)
  with pytest.raises(ValueError, match="trained for the diffusion"):
    load_guide(root / "guide", config_lib.override(config, ["diffusion.num_steps=30"]).diffusion,
               (28, 28, 1))
  with pytest.raises(ValueError, match="noisy_classifier run"):
    _, family, state = loop.restore_run(root / "ddpm", eval_overrides=[f"sample.classifier_workdir={root / 'ddpm'}"])
    family.draw(state, jax.random.key(0), 2)
  with pytest.raises(ValueError, match="reads 1-channel images"):
    load_guide(root / "guide", config.diffusion, (28, 28, 3))


def test_a_guided_sample_depends_only_on_its_seed_and_index(runs):
  root, _ = runs
  _, family, state = guided(root, 5.0)
  one = np.asarray(family.draw(state, jax.random.key(9), 1, labels=np.array([3]))).astype(np.int16)
  seven = np.asarray(family.draw(state, jax.random.key(9), 7, labels=np.full(7, 3))).astype(np.int16)
  diff = np.abs(one[0] - seven[0])
  assert diff.max() <= 1 and np.mean(diff > 0) < 0.01, (diff.max(), np.mean(diff > 0))
