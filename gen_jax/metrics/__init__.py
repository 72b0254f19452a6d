"""Sample-quality measures shared by every generative model, judged by a trained classifier."""

from gen_jax.metrics.sample_quality import Judge, frechet_distance, gaussian_stats, sample_quality

__all__ = ["Judge", "frechet_distance", "gaussian_stats", "sample_quality"]
