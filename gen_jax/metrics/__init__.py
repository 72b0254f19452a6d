"""Sample-quality measures shared by every generative model, judged by a trained classifier."""

from gen_jax.metrics.ranking import auroc
from gen_jax.metrics.sample_quality import Judge, frechet_distance, gaussian_stats, matched_accuracy, sample_quality

__all__ = ["Judge", "auroc", "frechet_distance", "gaussian_stats", "matched_accuracy", "sample_quality"]
