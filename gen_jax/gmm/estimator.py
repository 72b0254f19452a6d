"""`GaussianMixture`: scikit-learn's method names over the functional core, for users coming
from `sklearn.mixture.GaussianMixture`. Attributes end in `_` once fitted, as there."""

from __future__ import annotations

import jax
import numpy as np

from gen_jax.gmm import fit as fit_lib
from gen_jax.gmm.params import GMMParams, n_parameters


class GaussianMixture:
  """A Gaussian mixture fitted by EM. `seed` replaces scikit-learn's `random_state`.

  Differences from scikit-learn: the default init is "kmeans++" (seeding only; "kmeans" adds
  Lloyd iterations), `fit` accepts `sample_weight`, and randomness comes from a JAX key.
  """

  def __init__(self, n_components: int = 1, *, covariance_type: str = "full", tol: float = 1e-3,
               reg_covar: float = 1e-6, max_iter: int = 100, n_init: int = 1, init: str = "kmeans++",
               warm_start: bool = False, seed: int = 0):
    self.n_components, self.covariance_type, self.tol = n_components, covariance_type, tol
    self.reg_covar, self.max_iter, self.n_init, self.init = reg_covar, max_iter, n_init, init
    self.warm_start, self.seed = warm_start, seed
    self.params_: GMMParams | None = None

  def fit(self, x, y=None, sample_weight=None) -> "GaussianMixture":
    del y
    warm = self.params_ if self.warm_start and self.params_ is not None else None
    result = fit_lib.fit(x, self.n_components, key=jax.random.key(self.seed), covariance_type=self.covariance_type,
                         tol=self.tol, max_iter=self.max_iter, n_init=self.n_init, init=self.init,
                         reg_covar=self.reg_covar, sample_weight=sample_weight, init_params=warm)
    self.params_, self.converged_, self.n_iter_ = result.params, result.converged, result.n_iter
    self.lower_bound_ = float(result.log_likelihood[-1])
    self.log_likelihood_history_ = result.log_likelihood
    return self

  def _params(self) -> GMMParams:
    if self.params_ is None:
      raise RuntimeError("this GaussianMixture is not fitted yet: call fit(x) first")
    return self.params_

  def _x(self, x) -> np.ndarray:
    x, _ = fit_lib.check_data(x)
    if x.shape[1] != self._params().dim:
      raise ValueError(f"x has {x.shape[1]} features, but the mixture was fitted on {self._params().dim}")
    return x

  @property
  def weights_(self):
    return np.asarray(self._params().weights)

  @property
  def means_(self):
    return np.asarray(self._params().means)

  @property
  def covariances_(self):
    return np.asarray(self._params().covariances)

  def score_samples(self, x) -> np.ndarray:
    return np.asarray(fit_lib.log_prob(self._params(), self._x(x)))

  def score(self, x, y=None) -> float:
    del y
    return float(np.mean(self.score_samples(x)))

  def predict(self, x) -> np.ndarray:
    return np.asarray(fit_lib.predict(self._params(), self._x(x)))

  def predict_proba(self, x) -> np.ndarray:
    return np.asarray(fit_lib.predict_proba(self._params(), self._x(x)))

  def sample(self, n_samples: int = 1, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x, z = fit_lib.sample(self._params(), jax.random.key(seed), int(n_samples))
    return np.asarray(x), np.asarray(z)

  def _n_parameters(self) -> int:
    params = self._params()
    return n_parameters(self.covariance_type, params.n_components, params.dim)

  def bic(self, x) -> float:
    """Bayesian information criterion: -2 log L + p log N."""
    x = self._x(x)
    return -2 * self.score(x) * len(x) + self._n_parameters() * np.log(len(x))

  def aic(self, x) -> float:
    """Akaike information criterion: -2 log L + 2 p."""
    x = self._x(x)
    return -2 * self.score(x) * len(x) + 2 * self._n_parameters()
