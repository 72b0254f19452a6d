"""Fréchet distance against closed forms and scipy; the judge's measures on a trained run."""

import json

import numpy as np
import pytest
import scipy.linalg

from gen_jax import data
from gen_jax.metrics import Judge, frechet_distance, gaussian_stats, sample_quality
from tests.conftest import tiny_config


def test_frechet_distance_of_diagonal_gaussians_is_closed_form():
  mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
  var1, var2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
  expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)  # 5 + 1 + 0 + 4
  assert frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(expected) == 10.0


def test_frechet_distance_matches_scipy_sqrtm():
  rng = np.random.default_rng(0)
  a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
  s1, s2 = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
  mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
  covmean = scipy.linalg.sqrtm(s1 @ s2).real
  expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean)
  assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)
  assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-9)


def test_gaussian_stats_rejects_bad_shapes():
  with pytest.raises(ValueError, match=r"N >= 2"):
    gaussian_stats(np.zeros((1, 3)))


@pytest.fixture(scope="module")
def judged(tiny_run, mnist_dir):
  judge = Judge.load(tiny_run)
  config = tiny_config(mnist_dir)
  raw = data.load_mnist(mnist_dir)
  return judge, raw["test"]["image"][:config.data.test_examples], raw["test"]["label"][:config.data.test_examples], raw


def test_judge_scores_real_images_as_its_own_accuracy(judged, tiny_run):
  judge, images, labels, raw = judged
  out = sample_quality(judge, images, raw["train"]["image"][:2000], labels=labels)
  accuracy = json.loads((tiny_run / "eval.json").read_text())["test_accuracy"]
  assert out["conditional_accuracy"] == pytest.approx(accuracy, abs=2e-3)
  assert sum(out["class_histogram"]) == pytest.approx(1.0) and len(out["class_histogram"]) == 10
  assert out["num_samples"] == len(images)


def test_fid_orders_real_below_noise_and_mode_collapse(judged):
  judge, images, labels, raw = judged
  reference = raw["train"]["image"][:2000]
  real = sample_quality(judge, images, reference)["classifier_fid"]
  noise = np.random.default_rng(0).integers(0, 256, images.shape, dtype=np.uint8)
  noisy = sample_quality(judge, noise, reference)
  collapsed = sample_quality(judge, np.repeat(images[labels == 1][:50], 20, axis=0), reference)
  assert 0 <= real < collapsed["classifier_fid"] and real < noisy["classifier_fid"]
  assert collapsed["classes_covered"] <= 2 < sample_quality(judge, images, reference)["classes_covered"]
  assert "conditional_accuracy" not in noisy


def test_judge_rejects_float_images(judged):
  judge = judged[0]
  with pytest.raises(ValueError, match="uint8 images"):
    judge.logits_and_features(np.zeros((2, 28, 28, 1), np.float32))
