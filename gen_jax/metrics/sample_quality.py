"""Classifier FID, conditional accuracy and mode coverage, from a trained MNIST classifier.

Fréchet distance between Gaussians fitted to two feature sets (Heusel et al., 2017,
"GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium"):
    d² = ||μ₁ - μ₂||² + Tr(Σ₁ + Σ₂ - 2 (Σ₁^½ Σ₂ Σ₁^½)^½)
Here the features are the judge classifier's penultimate layer instead of Inception's.
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from gen_jax import precision
from gen_jax.data import batched_apply, scale_images


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Mean [F] and covariance [F, F] (float64) of features [N, F]."""
  features = np.asarray(features, np.float64)
  if features.ndim != 2 or len(features) < 2:
    raise ValueError(f"need features [N >= 2, F], got shape {features.shape}")
  return features.mean(0), np.cov(features, rowvar=False)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
  values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
  return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
  """d² between N(μ₁, Σ₁) and N(μ₂, Σ₂); symmetric PSD square roots, no complex sqrtm."""
  root1 = _psd_sqrt(sigma1)
  cross = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
  trace_sqrt = np.sum(np.sqrt(np.clip(cross, 0, None)))
  return float(np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt)


class Judge:
  """A trained classifier run used to score samples: `Judge.load("runs/cnn")`."""

  def __init__(self, config, state):
    from gen_jax.families import classifier  # the judge is a classifier run

    self.scale, self.num_classes = config.data.scale, config.net.num_classes
    model, params = classifier.make_model(config.net), state.params
    # the features behind the classifier FID are reported values: full float32 products
    self._apply = jax.jit(precision.exact(lambda images: classifier.logits_and_features(model, params, images)))

  @classmethod
  def load(cls, workdir: str | Path) -> "Judge":
    from gen_jax.train.loop import restore_run

    config, _, state = restore_run(workdir)
    if config.model != "classifier":
      raise ValueError(f"--judge needs a classifier run, but {workdir} trained {config.model!r}")
    return cls(config, state)

  def logits_and_features(self, images: np.ndarray, chunk: int = 500):
    """uint8 images [N, 28, 28, 1] -> (logits [N, classes], features [N, F])."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
      raise ValueError(f"judge expects uint8 images [N, H, W, C], got {images.dtype} {images.shape}")
    scaled = {"image": scale_images(images, self.scale)}
    return batched_apply(lambda c: self._apply(c["image"]), scaled, chunk)


def sample_quality(judge: Judge, images: np.ndarray, reference: np.ndarray, labels=None) -> dict:
  """classifier_fid against `reference` images, the predicted-class histogram and, for
  conditional samples, the accuracy of the judge's prediction against the requested `labels`
  (`conditional_accuracy`), and the same after the best one-to-one relabelling
  (`matched_accuracy`: InfoGAN's categorical code)."""
  logits, features = judge.logits_and_features(images)
  _, reference_features = judge.logits_and_features(reference)
  fid = frechet_distance(*gaussian_stats(features), *gaussian_stats(reference_features))
  predicted = np.argmax(logits, -1)
  histogram = np.bincount(predicted, minlength=judge.num_classes) / len(predicted)
  out = {"classifier_fid": fid, "num_samples": len(images),
         "class_histogram": [float(h) for h in histogram],
         "classes_covered": int(np.sum(histogram > 0.01))}
  if labels is not None:
    labels = np.asarray(labels)
    out["conditional_accuracy"] = float(np.mean(predicted == labels))
    out["matched_accuracy"] = matched_accuracy(labels, predicted, judge.num_classes)
  return out


def matched_accuracy(codes: np.ndarray, classes: np.ndarray, num_classes: int) -> float:
  """Accuracy of unsupervised codes against classes under the best one-to-one map of code
  values to classes (the Hungarian algorithm on the contingency table), as InfoGAN's
  categorical code is scored: the code learns the digits, not their names."""
  from scipy.optimize import linear_sum_assignment

  codes, classes = np.asarray(codes, np.int64), np.asarray(classes, np.int64)
  if codes.shape != classes.shape or codes.ndim != 1 or len(codes) == 0:
    raise ValueError(f"need equally long 1-D codes and classes, got {codes.shape} and {classes.shape}")
  size = max(num_classes, int(codes.max()) + 1, int(classes.max()) + 1)
  table = np.zeros((size, size), np.int64)
  np.add.at(table, (codes, classes), 1)  # table[c, k] = #(code c judged as class k)
  rows, cols = linear_sum_assignment(table, maximize=True)
  return float(table[rows, cols].sum() / len(codes))
