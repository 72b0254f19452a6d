"""The latent-variable maths against closed forms: log-densities, KL, IWAE, slerp."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.latent import bounds, figures


def test_gaussian_and_bernoulli_log_densities_match_their_formulas():
  x, mean, log_var = jnp.array([[0.3, -1.0]]), jnp.array([[0.0, 1.0]]), jnp.array([[0.0, math.log(4.0)]])
  by_hand = (-0.5 * math.log(2 * math.pi) - 0.5 * 0.09) + (-0.5 * math.log(2 * math.pi * 4) - 4.0 / 8)
  np.testing.assert_allclose(bounds.gaussian_log_prob(x, mean, log_var), [by_hand], rtol=1e-6)
  np.testing.assert_allclose(bounds.standard_normal_log_prob(x), bounds.gaussian_log_prob(x, 0 * x, 0 * x), rtol=1e-6)
  logits, bits = jnp.array([[2.0, -1.0, 0.0]]), jnp.array([[1.0, 0.0, 1.0]])
  p = jax.nn.sigmoid(logits)
  naive = jnp.sum(bits * jnp.log(p) + (1 - bits) * jnp.log(1 - p), -1)
  np.testing.assert_allclose(bounds.bernoulli_log_prob(bits, logits), naive, rtol=1e-6)


def test_bernoulli_log_prob_is_finite_for_huge_logits():
  logits = jnp.array([[1e4, -1e4, 80.0, -80.0]])
  bits = jnp.array([[1.0, 0.0, 0.0, 1.0]])
  value = bounds.bernoulli_log_prob(bits, logits)
  np.testing.assert_allclose(value, [-160.0], rtol=1e-6)  # the two wrong bits cost 80 nats each
  grad = jax.grad(lambda l: bounds.bernoulli_log_prob(bits, l).sum())(logits)
  assert np.all(np.isfinite(grad))


def test_analytic_kl_matches_a_monte_carlo_estimate():
  mean, log_var = jnp.array([0.5, -1.0, 2.0]), jnp.array([-1.0, 0.3, 0.0])
  eps = jax.random.normal(jax.random.key(0), (200_000, 3))
  z = bounds.reparameterize(mean, log_var, eps)
  monte_carlo = jnp.mean(bounds.gaussian_log_prob(z, mean, log_var) - bounds.standard_normal_log_prob(z))
  np.testing.assert_allclose(monte_carlo, bounds.gaussian_kl(mean, log_var), rtol=5e-3)
  assert float(bounds.gaussian_kl(jnp.zeros(3), jnp.zeros(3))) == 0.0


def test_log_variance_bound_keeps_exp_finite_and_is_identity_near_zero():
  raw = jnp.array([-1e9, -50.0, 0.01, 50.0, 1e9])
  lv = bounds.bound_log_var(raw)
  assert np.all(np.abs(lv) <= bounds.LOG_VAR_BOUND) and np.all(np.isfinite(jnp.exp(lv)))
  assert np.all(jnp.exp(lv) > 0)
  np.testing.assert_allclose(lv[2], 0.01, rtol=1e-5)


def linear_gaussian(x):
  """p(z) = N(0, 1), p(x|z) = N(z, 1), proposal q = the prior: log p(x) = log N(x; 0, 2)."""

  def log_weights(sample_keys):  # [B, C]
    z = jax.vmap(jax.vmap(lambda k: jax.random.normal(k, ())))(sample_keys)
    return -0.5 * (math.log(2 * math.pi) + (x[:, None] - z) ** 2)  # log p(x|z) (q = p(z) cancels)

  log_px = -0.5 * (math.log(2 * math.pi * 2) + x ** 2 / 2)
  elbo = -0.5 * (math.log(2 * math.pi) + x ** 2 + 1)  # E_p(z)[log p(x|z)]
  return log_weights, log_px, elbo


def test_iwae_reaches_the_closed_form_likelihood_and_elbo_is_exact_in_expectation():
  x = jnp.array([0.0, 1.5, -2.5])
  log_weights, log_px, elbo = linear_gaussian(x)
  keys = jax.vmap(jax.random.fold_in, (None, 0))(jax.random.key(1), jnp.arange(3))
  lk, mean_lw = bounds.iwae_bounds(log_weights, keys, k=20_000, chunk=1_000)
  np.testing.assert_allclose(lk, log_px, atol=0.02)
  np.testing.assert_allclose(mean_lw, elbo, atol=0.05)
  assert np.all(mean_lw <= lk)


def test_iwae_bound_does_not_decrease_with_k_and_dominates_the_elbo():
  x = jnp.linspace(-3, 3, 64)
  log_weights, log_px, _ = linear_gaussian(x)
  keys = jax.vmap(jax.random.fold_in, (None, 0))(jax.random.key(2), jnp.arange(64))
  means = [float(jnp.mean(bounds.iwae_bounds(log_weights, keys, k=k, chunk=1)[0])) for k in (1, 5, 50, 500)]
  assert all(a < b for a, b in zip(means, means[1:])), means
  assert means[-1] <= float(jnp.mean(log_px)) + 0.01


def test_iwae_does_not_depend_on_the_chunk_size():
  x = jnp.array([0.5, -1.0])
  log_weights, _, _ = linear_gaussian(x)
  keys = jax.vmap(jax.random.fold_in, (None, 0))(jax.random.key(3), jnp.arange(2))
  a = bounds.iwae_bounds(log_weights, keys, k=60, chunk=60)
  b = bounds.iwae_bounds(log_weights, keys, k=60, chunk=4)
  chex.assert_trees_all_close(a, b, rtol=1e-6)
  with pytest.raises(ValueError, match="divides"):
    bounds.iwae_bounds(log_weights, keys, k=60, chunk=7)


def test_bits_per_dim():
  assert bounds.bits_per_dim(784 * math.log(2), 784) == pytest.approx(1.0)


def test_slerp_keeps_endpoints_and_norm():
  a, b = jnp.array([1.0, 0.0]), jnp.array([0.0, 2.0])
  path = figures.slerp(a, b, jnp.linspace(0, 1, 5))
  np.testing.assert_allclose(path[0], a, atol=1e-6)
  np.testing.assert_allclose(path[-1], b, atol=1e-6)
  np.testing.assert_allclose(path[2], jnp.array([1.0, 2.0]) * math.sin(math.pi / 4), atol=1e-5)
  np.testing.assert_allclose(figures.slerp(a, 3 * a, jnp.array([0.5]))[0], 2 * a, atol=1e-6)  # parallel: linear


def test_softplus_matches_jax_and_its_gradient_is_the_sigmoid():
  l = jnp.array([-1e4, -30.0, -1.0, 0.0, 1e-3, 2.0, 30.0, 1e4])
  np.testing.assert_allclose(bounds.softplus(l), jax.nn.softplus(l), rtol=1e-6, atol=0)
  np.testing.assert_allclose(jax.vmap(jax.grad(bounds.softplus))(l), jax.nn.sigmoid(l), rtol=1e-6, atol=1e-30)
