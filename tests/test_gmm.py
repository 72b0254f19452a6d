"""Gaussian mixtures: Old Faithful, per-iteration agreement with scikit-learn, EM monotonicity,
robustness and the API's error paths."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gen_jax import gmm
from gen_jax.gmm import params as gmm_params
from gen_jax.gmm.fit import chunked
from tests.conftest import DLFS5, needs_dlfs5

OLD_FAITHFUL = DLFS5 / "old_faithful.txt"


def blobs(n=300, d=3, k=3, seed=0):
  rng = np.random.default_rng(seed)
  centers = rng.normal(scale=4.0, size=(k, d))
  labels = rng.integers(k, size=n)
  scales = rng.uniform(0.5, 1.5, size=(k, d))
  return centers[labels] + scales[labels] * rng.normal(size=(n, d)), labels


def sklearn_precisions(params):
  cov = np.asarray(params.covariances, np.float64)
  return np.linalg.inv(cov) if params.covariance_type in ("full", "tied") else 1.0 / cov


def random_params(covariance_type, k=3, d=4, seed=0):
  rng = np.random.default_rng(seed)
  a = rng.normal(size=(k, d, d))
  full = a @ np.swapaxes(a, 1, 2) + 0.5 * np.eye(d)
  cov = {"full": full, "tied": full[0], "diag": rng.uniform(0.3, 2.0, (k, d)), "spherical": rng.uniform(0.3, 2.0, k)}
  return gmm.GMMParams(jnp.asarray(rng.dirichlet(np.ones(k))), jnp.asarray(rng.normal(size=(k, d))),
                       jnp.asarray(cov[covariance_type]), covariance_type)


@pytest.mark.parametrize("covariance_type", gmm.COVARIANCE_TYPES)
def test_feature_expansion_gives_every_types_log_density(covariance_type):
  """log π_k + log N(x|μ_k,Σ_k) from φ(x) = [q(x), x, 1] and one coefficient matrix equals the
  direct formula with a solve, for points near and far from the means."""
  with jax.enable_x64(True):
    params = random_params(covariance_type)
    x = np.random.default_rng(1).normal(scale=3.0, size=(50, 4))
    k, d = 3, 4
    cov = np.asarray(params.covariances)
    cov = {"full": lambda c: c, "tied": lambda c: np.broadcast_to(c, (k, d, d)),
           "diag": lambda c: c[:, :, None] * np.eye(d), "spherical": lambda c: c[:, None, None] * np.eye(d)
           }[covariance_type](cov)  # [K, D, D]
    expected = np.empty((50, k))
    for j in range(k):
      r = x - np.asarray(params.means[j])
      maha = np.sum(r * np.linalg.solve(cov[j], r.T).T, 1)
      expected[:, j] = np.log(params.weights[j]) - 0.5 * (maha + np.linalg.slogdet(2 * np.pi * cov[j])[1])
    np.testing.assert_allclose(np.asarray(gmm_params.joint_log_prob(params, jnp.asarray(x))), expected, rtol=1e-10)
    phi = gmm_params.features(jnp.asarray(x), covariance_type)
    assert phi.shape == (50, gmm_params.n_second_order(covariance_type, d) + d + 1)


@needs_dlfs5
def test_old_faithful_converges_to_the_books_log_likelihood():
  x = np.loadtxt(OLD_FAITHFUL)
  result = gmm.fit(x, 2, key=jax.random.key(0), covariance_type="full")
  assert result.converged and result.n_iter < 100
  # the README's figure for the fitted mixture (book: -4.1554; scikit-learn: -4.15538); the
  # history ends with the log-likelihood *before* the last M-step, within tol of it
  assert float(jnp.mean(gmm.log_prob(result.params, x))) == pytest.approx(-4.15538, abs=5e-6)
  assert result.log_likelihood[-1] == pytest.approx(-4.15538, abs=1e-3)


@pytest.mark.parametrize("covariance_type", gmm.COVARIANCE_TYPES)
def test_every_iteration_matches_sklearn_float64(covariance_type):
  x, _ = blobs(n=400, d=3, k=3, seed=1)
  with jax.enable_x64(True):
    start = gmm.fit(x, 3, key=jax.random.key(0), covariance_type=covariance_type, max_iter=1).params
    ours = gmm.fit(x, 3, key=jax.random.key(0), covariance_type=covariance_type, tol=0.0, max_iter=8, init_params=start)
    assert ours.log_likelihood.dtype == np.float64
  sk = SkGaussianMixture(3, covariance_type=covariance_type, tol=0.0, max_iter=8, reg_covar=1e-6,
                         weights_init=np.asarray(start.weights), means_init=np.asarray(start.means),
                         precisions_init=sklearn_precisions(start)).fit(x)
  np.testing.assert_allclose(ours.log_likelihood, sk.lower_bounds_, rtol=1e-6)
  np.testing.assert_allclose(np.asarray(ours.params.means), sk.means_, rtol=1e-6, atol=1e-8)
  np.testing.assert_allclose(np.asarray(ours.params.covariances), sk.covariances_, rtol=1e-6, atol=1e-8)
  with jax.enable_x64(True):
    np.testing.assert_allclose(np.asarray(gmm.log_prob(ours.params, x)), sk.score_samples(x), rtol=1e-6)


@settings(max_examples=12, deadline=None)
@given(covariance_type=st.sampled_from(gmm.COVARIANCE_TYPES), k=st.sampled_from([1, 2, 4]),
       d=st.sampled_from([1, 2]), seed=st.integers(0, 2 ** 16), spread=st.floats(0.1, 10.0))
def test_em_never_decreases_the_log_likelihood(covariance_type, k, d, seed, spread):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(64, d)) * spread + rng.integers(0, 3, size=(64, 1)) * spread
  with jax.enable_x64(True):
    result = gmm.fit(x, k, key=jax.random.key(seed), covariance_type=covariance_type, tol=0.0, max_iter=15)
  ll = result.log_likelihood
  assert np.all(np.isfinite(ll))
  assert np.all(np.diff(ll) >= -1e-9 * np.abs(ll[1:])), ll


def test_chunked_em_step_equals_one_chunk():
  x, _ = blobs(n=101, d=2, k=2, seed=3)
  w = np.ones(len(x))
  with jax.enable_x64(True):
    start = gmm.fit(x, 2, key=jax.random.key(0), max_iter=1).params
    one = gmm.em_step(start, *chunked(x, w, 101, jnp.float64), 1e-6)
    many = gmm.em_step(start, *chunked(x, w, 8, jnp.float64), 1e-6)  # 13 chunks, 3 padded rows
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12), one, many)


def test_integer_sample_weights_equal_repeated_rows():
  x, _ = blobs(n=60, d=2, k=2, seed=4)
  counts = np.random.default_rng(0).integers(0, 4, size=len(x))
  with jax.enable_x64(True):
    start = gmm.fit(x, 2, key=jax.random.key(0), max_iter=1).params
    weighted = gmm.fit(x, 2, key=jax.random.key(0), sample_weight=counts, init_params=start, tol=0, max_iter=10)
    repeated = gmm.fit(np.repeat(x, counts, 0), 2, key=jax.random.key(0), init_params=start, tol=0, max_iter=10)
  np.testing.assert_allclose(weighted.log_likelihood, repeated.log_likelihood, rtol=1e-10)
  np.testing.assert_allclose(np.asarray(weighted.params.means), np.asarray(repeated.params.means), rtol=1e-9)


def test_n_init_keeps_the_best_restart():
  x, _ = blobs(n=300, d=2, k=5, seed=5)
  result = gmm.fit(x, 5, key=jax.random.key(1), n_init=6, init="random", max_iter=30)
  finals = result.restart_log_likelihood
  assert finals.shape == (6,) and len(np.unique(np.round(finals, 5))) > 1  # the restarts differ
  assert result.log_likelihood[-1] == pytest.approx(finals.max())


@pytest.mark.parametrize("init", ["kmeans++", "kmeans", "random"])
def test_inits_recover_separated_clusters(init):
  x, labels = blobs(n=600, d=2, k=3, seed=6)
  result = gmm.fit(x, 3, key=jax.random.key(0), init=init, n_init=8 if init == "random" else 2, max_iter=300)
  predicted = np.asarray(gmm.predict(result.params, x))
  agreement = max(np.mean(predicted[labels == c] == np.bincount(predicted[labels == c]).argmax()) for c in range(3))
  assert agreement > 0.95 and len(np.unique(predicted)) == 3


def test_warm_start_continues_exactly_where_it_stopped():
  x, _ = blobs(n=200, d=2, k=2, seed=7)
  with jax.enable_x64(True):
    start = gmm.fit(x, 2, key=jax.random.key(0), max_iter=1).params
    ten = gmm.fit(x, 2, key=jax.random.key(0), init_params=start, tol=0, max_iter=10)
    then = gmm.fit(x, 2, key=jax.random.key(0), init_params=ten.params, tol=0, max_iter=10)
    twenty = gmm.fit(x, 2, key=jax.random.key(0), init_params=start, tol=0, max_iter=20)
  np.testing.assert_allclose(then.log_likelihood, twenty.log_likelihood[10:], rtol=1e-12)
  est = gmm.GaussianMixture(2, warm_start=True, max_iter=5, tol=0).fit(x)
  first = est.log_likelihood_history_
  second = est.fit(x).log_likelihood_history_
  assert second[0] >= first[-1] - 1e-6  # starts from the fitted parameters, not anew


@pytest.mark.parametrize("covariance_type", gmm.COVARIANCE_TYPES)
def test_duplicates_and_singletons_stay_finite(covariance_type):
  rng = np.random.default_rng(0)
  x = np.concatenate([np.full((50, 2), 3.0), rng.normal(size=(30, 2)), [[40.0, -40.0]]])  # duplicates + outlier
  result = gmm.fit(x, 4, key=jax.random.key(0), covariance_type=covariance_type, tol=0, max_iter=50)
  for leaf in jax.tree.leaves(result.params):
    assert np.all(np.isfinite(leaf))
  assert np.all(np.isfinite(result.log_likelihood))
  assert np.all(np.isfinite(np.asarray(gmm.log_prob(result.params, x))))


def test_all_identical_points_stay_finite():
  x = np.ones((20, 3))
  result = gmm.fit(x, 2, key=jax.random.key(0), covariance_type="full", max_iter=10)
  assert all(np.all(np.isfinite(l)) for l in jax.tree.leaves(result.params))


def test_bad_input_gets_clear_errors():
  x, _ = blobs(n=10, d=2)
  with pytest.raises(ValueError, match=r"n_components must be an integer in \[1, 10\]"):
    gmm.fit(x, 11, key=jax.random.key(0))
  with pytest.raises(ValueError, match="non-finite"):
    gmm.fit(np.where(np.arange(20).reshape(10, 2) == 3, np.nan, x), 2, key=jax.random.key(0))
  with pytest.raises(ValueError, match=r"\[N, D\]"):
    gmm.fit(np.zeros((4, 2, 2)), 2, key=jax.random.key(0))
  with pytest.raises(ValueError, match="covariance_type must be one of full, diag"):
    gmm.fit(x, 2, key=jax.random.key(0), covariance_type="banded")
  with pytest.raises(ValueError, match="init must be one of"):
    gmm.fit(x, 2, key=jax.random.key(0), init="magic")
  with pytest.raises(ValueError, match="sample_weight"):
    gmm.fit(x, 2, key=jax.random.key(0), sample_weight=-np.ones(10))
  good = gmm.fit(x, 2, key=jax.random.key(0), covariance_type="diag").params
  with pytest.raises(ValueError, match="init_params are 'diag'"):
    gmm.fit(x, 2, key=jax.random.key(0), init_params=good)
  with pytest.raises(ValueError, match=r"init_params.weights must have shape \(3,\)"):
    gmm.fit(x, 3, key=jax.random.key(0), covariance_type="diag", init_params=good)
  with pytest.raises(RuntimeError, match="not fitted"):
    gmm.GaussianMixture(2).predict(x)
  with pytest.raises(ValueError, match="fitted on 2"):
    gmm.GaussianMixture(2).fit(x).predict(np.zeros((3, 5)))


def test_estimator_matches_sklearn_on_its_own_parameters():
  x, _ = blobs(n=300, d=2, k=3, seed=8)
  sk = SkGaussianMixture(3, random_state=0).fit(x)
  ours = gmm.GaussianMixture(3).fit(x)
  ours.params_ = gmm.GMMParams(jnp.asarray(sk.weights_, jnp.float32), jnp.asarray(sk.means_, jnp.float32),
                               jnp.asarray(sk.covariances_, jnp.float32), "full")
  np.testing.assert_allclose(ours.score_samples(x), sk.score_samples(x), rtol=1e-4)
  np.testing.assert_allclose(ours.predict_proba(x), sk.predict_proba(x), atol=1e-4)
  assert ours.bic(x) == pytest.approx(sk.bic(x), rel=1e-4) and ours.aic(x) == pytest.approx(sk.aic(x), rel=1e-4)
  np.testing.assert_array_equal(ours.predict(x), sk.predict(x))


def test_sampling_is_per_index_and_has_the_right_moments():
  params = gmm.GMMParams(jnp.array([0.25, 0.75]), jnp.array([[-5.0, 0.0], [5.0, 1.0]]),
                         jnp.array([[[1.0, 0.5], [0.5, 2.0]], [[0.5, 0.0], [0.0, 0.5]]]), "full")
  x, z = gmm.sample(params, jax.random.key(0), 20000)
  small, _ = gmm.sample(params, jax.random.key(0), 10)
  np.testing.assert_array_equal(np.asarray(small), np.asarray(x[:10]))  # independent of n
  assert abs(float(jnp.mean(z)) - 0.75) < 0.02
  first = np.asarray(x)[np.asarray(z) == 0]
  np.testing.assert_allclose(first.mean(0), [-5.0, 0.0], atol=0.05)
  np.testing.assert_allclose(np.cov(first.T), [[1.0, 0.5], [0.5, 2.0]], atol=0.1)
  assert not np.array_equal(np.asarray(x[:10]), np.asarray(gmm.sample(params, jax.random.key(1), 10)[0]))


def test_a_dead_component_is_reseeded_at_the_worst_explained_point():
  """A far component with no weight gets no responsibility; EM moves it to the point the
  mixture explains worst, with one point's weight and the data's covariance."""
  x, _ = blobs(n=200, d=2, k=2, seed=9)
  x = np.concatenate([x, [[30.0, -30.0]]])  # an outlier: the worst-explained point
  w = np.ones(len(x))
  with jax.enable_x64(True):
    live = gmm.fit(x, 2, key=jax.random.key(0), max_iter=3).params
    params = gmm.GMMParams(jnp.asarray([0.5, 0.5 - 1e-30, 1e-30]), jnp.concatenate([live.means, jnp.full((1, 2), 1e3)]),
                           jnp.concatenate([live.covariances, jnp.eye(2)[None]]), "full")
    new, _ = gmm.em_step(params, *chunked(x, w, len(x), jnp.float64), 1e-6)
    worst = x[np.argmin(np.asarray(gmm.log_prob(params, x)))]
  np.testing.assert_array_equal(worst, [30.0, -30.0])
  np.testing.assert_allclose(np.asarray(new.means[2]), worst, rtol=1e-12)
  assert float(new.weights[2]) == pytest.approx(1 / len(x) / (1 + 1 / len(x)), rel=1e-9)
  np.testing.assert_allclose(np.asarray(new.covariances[2]), np.cov(x.T, bias=True) + 1e-6 * np.eye(2), rtol=1e-9)
  assert np.all(np.abs(np.asarray(new.means[:2])) < 20)  # the live components stay where they were


DEADLOCK_SCRIPT = """
import jax, numpy as np
from gen_jax import gmm
x = np.random.default_rng(0).normal(size=(3000, 50))
for n_init, repeats in ((1, 8), (2, 3)):
  for seed in range(repeats):
    gmm.fit(x, 10, key=jax.random.key(seed), covariance_type="full", n_init=n_init)
print("finished")
"""


@pytest.mark.slow
def test_full_covariance_fits_do_not_deadlock_on_cpu():
  """jaxlib 0.10's CPU LAPACK kernels block a thread of XLA's pool while they wait for their
  batch: two batched factorisations side by side (a vmapped cond runs eigh beside Cholesky)
  hung 4 of 8 such fits on 2 cores. 11 fits in a fresh process must finish (~20 s)."""
  env = {**os.environ, "JAX_PLATFORMS": "cpu"}
  try:
    proc = subprocess.run([sys.executable, "-c", DEADLOCK_SCRIPT], env=env, capture_output=True, text=True, timeout=240)
  except subprocess.TimeoutExpired:
    pytest.fail("gmm.fit hung: a full-covariance fit did not finish within 240 s")
  assert proc.returncode == 0 and "finished" in proc.stdout, proc.stderr[-3000:]
