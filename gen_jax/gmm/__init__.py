"""Gaussian mixtures by EM: a functional core and a scikit-learn-style estimator.

    result = gen_jax.gmm.fit(x, 3, key=jax.random.key(0), covariance_type="diag")
    gen_jax.gmm.log_prob(result.params, x); gen_jax.gmm.sample(result.params, key, 100)
"""

from gen_jax.gmm.em import em_step
from gen_jax.gmm.estimator import GaussianMixture
from gen_jax.gmm.fit import FitResult, fit, log_prob, predict, predict_proba, sample
from gen_jax.gmm.params import COVARIANCE_TYPES, GMMParams, n_parameters

__all__ = ["COVARIANCE_TYPES", "FitResult", "GMMParams", "GaussianMixture", "em_step", "fit", "log_prob", "n_parameters",
           "predict", "predict_proba", "sample"]
