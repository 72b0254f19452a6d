"""The diffusion maths against closed forms: schedules, q(x_t | x_0), the posterior, samplers, the bound."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.diffusion import sampling, schedules, vlb


@pytest.mark.parametrize("kind", schedules.SCHEDULES)
def test_alpha_bar_0_is_one_and_the_posterior_variance_at_t1_is_zero(kind):
  s = schedules.make_schedule(kind, 1000)
  assert s.num_steps == 1000 and s.beta.shape == (1001,)
  assert float(s.alpha_bar[0]) == 1.0 and float(s.beta[0]) == 0.0
  assert float(s.posterior_var[1]) == 0.0 and float(s.alpha_bar_prev[1]) == 1.0  # no wrap-around to ᾱ_T
  beta = schedules.betas(kind, 1000)
  np.testing.assert_allclose(s.alpha_bar[1:], np.cumprod(1 - beta), rtol=1e-6)
  np.testing.assert_allclose(s.alpha_bar_prev[2:], s.alpha_bar[1:-1])
  assert np.all(np.diff(np.asarray(s.alpha_bar)) < 0)


def test_the_linear_and_cosine_betas_are_the_papers():
  np.testing.assert_allclose(schedules.betas("linear", 1000)[[0, -1]], [1e-4, 0.02])
  f = lambda t: np.cos((t / 10 + 0.008) / 1.008 * np.pi / 2) ** 2
  np.testing.assert_allclose(np.cumprod(1 - schedules.betas("cosine", 10))[:-1], f(np.arange(1, 10)) / f(0), rtol=1e-9)
  with pytest.raises(ValueError, match="unknown noise schedule"):
    schedules.betas("quadratic", 10)
  with pytest.raises(ValueError, match="T must be >= 1"):
    schedules.make_schedule("linear", 0)


def test_q_sample_has_the_closed_form_mean_and_variance():
  s = schedules.make_schedule("linear", 1000)
  x0 = jnp.full((20_000, 1, 1, 1), 0.7)
  t = jnp.full((20_000,), 300)
  x_t = schedules.q_sample(s, x0, t, jax.random.normal(jax.random.key(0), x0.shape))
  ab = float(s.alpha_bar[300])
  np.testing.assert_allclose(float(jnp.mean(x_t)), np.sqrt(ab) * 0.7, atol=0.02)
  np.testing.assert_allclose(float(jnp.var(x_t)), 1 - ab, rtol=0.03)


def test_the_posterior_is_the_gaussian_conditional():
  """q(x_{t-1} | x_t, x_0) by conditioning N(√ᾱ_{t-1} x_0, 1 - ᾱ_{t-1}) on x_t ~ N(√α_t x_{t-1}, β_t)."""
  s = schedules.make_schedule("linear", 100)
  x0, x_t = jnp.array([[[[0.3]]], [[[-0.9]]]]), jnp.array([[[[1.1]]], [[[0.2]]]])
  for t in (1, 2, 50, 100):
    tt = jnp.full((2,), t)
    mean, var = schedules.posterior(s, x0, x_t, tt)
    beta64 = np.concatenate([[0.0], schedules.betas("linear", 100)])  # float64: 1 - ᾱ_1 = 1e-4 exactly
    beta, prev = beta64[t], np.prod(1 - beta64[:t])
    if t == 1:
      np.testing.assert_allclose(mean, x0, rtol=1e-6)
      assert float(var[0, 0, 0, 0]) == 0.0
      continue
    precision = 1 / (1 - prev) + (1 - beta) / beta
    expected = (np.sqrt(prev) * x0 / (1 - prev) + np.sqrt(1 - beta) * x_t / beta) / precision
    np.testing.assert_allclose(mean, expected, rtol=1e-5)
    np.testing.assert_allclose(var[:, 0, 0, 0], [1 / precision] * 2, rtol=1e-5)


def test_ddim_timesteps_start_at_T_and_are_uniform():
  np.testing.assert_array_equal(schedules.ddim_timesteps(1000, 3), [1000, 667, 333])
  np.testing.assert_array_equal(schedules.ddim_timesteps(5, 5), [5, 4, 3, 2, 1])
  assert schedules.ddim_timesteps(1000, 50)[0] == 1000 and schedules.ddim_timesteps(1000, 50)[-1] == 20
  with pytest.raises(ValueError, match="DDIM steps"):
    schedules.ddim_timesteps(10, 11)


def gaussian_data_eps(s, var_data):
  """The exact ε̂ for data x_0 ~ N(0, var_data): E[ε | x_t] = √(1-ᾱ_t) x_t / (ᾱ_t var_data + 1 - ᾱ_t)."""
  def eps_fn(x, t):
    ab = s.alpha_bar[t].reshape(-1, 1, 1, 1)
    return jnp.sqrt(1 - ab) * x / (ab * var_data + 1 - ab)
  return eps_fn


@pytest.mark.parametrize("sampler", ["ancestral", "ddim", "ddim_eta1"])
def test_samplers_with_the_exact_noise_prediction_draw_the_data_distribution(sampler):
  """With the true ε̂ of Gaussian data, every sampler must return x_0 ~ N(0, var_data)."""
  s, var_data = schedules.make_schedule("linear", 1000), 0.25
  keys = jax.vmap(jax.random.fold_in, (None, 0))(jax.random.key(0), jnp.arange(4000))
  eps_fn = gaussian_data_eps(s, var_data)
  if sampler == "ancestral":
    x = sampling.ancestral(eps_fn, s, keys, (1, 1, 1), variance="posterior", clip=False)
  else:
    steps, eta = (1000, 1.0) if sampler == "ddim_eta1" else (100, 0.0)  # coarse η = 1 steps lose variance
    x = sampling.ddim(eps_fn, s, keys, (1, 1, 1), steps=steps, eta=eta, clip=False)
  assert abs(float(jnp.mean(x))) < 0.03
  np.testing.assert_allclose(float(jnp.var(x)), var_data, rtol=0.08)


def test_ddim_with_eta_1_and_every_step_is_ancestral_sampling_with_the_posterior_variance():
  s = schedules.make_schedule("cosine", 50)
  keys = jax.vmap(jax.random.fold_in, (None, 0))(jax.random.key(3), jnp.arange(16))
  eps_fn = gaussian_data_eps(s, 0.3)
  a = sampling.ancestral(eps_fn, s, keys, (2, 2, 1), variance="posterior", clip=True)
  np.testing.assert_allclose(sampling.ddim(eps_fn, s, keys, (2, 2, 1), steps=50, eta=1.0), a, atol=2e-5)
  assert not np.allclose(sampling.ancestral(eps_fn, s, keys, (2, 2, 1), variance="beta"), a, atol=1e-3)


def test_a_sample_depends_on_its_own_key_only_and_guidance_vmaps():
  s = schedules.make_schedule("linear", 30)
  eps_fn = gaussian_data_eps(s, 0.5)
  keys = jax.vmap(jax.random.fold_in, (None, 0))(jax.random.key(1), jnp.arange(9))
  full = sampling.ancestral(eps_fn, s, keys, (2, 2, 1))
  np.testing.assert_array_equal(sampling.ancestral(eps_fn, s, keys[4:7], (2, 2, 1)), full[4:7])
  both = lambda x, t: (eps_fn(x, t), 0.5 * eps_fn(x, t))  # (ε̂_y, ε̂_∅)
  run = lambda g: sampling.ddim(sampling.classifier_free(both, g), s, keys, (2, 2, 1), steps=10, eta=0.5)
  swept = jax.vmap(run)(jnp.array([0.0, 1.0, 3.0]))
  for i, g in enumerate((0.0, 1.0, 3.0)):
    np.testing.assert_allclose(swept[i], run(g), atol=1e-6)
  assert not np.allclose(swept[0], swept[2])


def test_the_discretized_decoder_sums_to_one_over_the_256_levels():
  levels = jnp.linspace(-1, 1, 256).reshape(256, 1, 1, 1)
  for mean, std in ((0.1, 0.01), (-0.99, 0.05), (0.0, 2.0)):
    log_p = vlb.discretized_gaussian_log_prob(levels, jnp.full_like(levels, mean), std)
    np.testing.assert_allclose(float(jnp.sum(jnp.exp(log_p))), 1.0, rtol=1e-5)


def test_the_bounds_sampled_estimate_agrees_with_the_full_sum():
  s, var_data = schedules.make_schedule("linear", 40), 0.25
  x0 = jax.random.normal(jax.random.key(0), (64, 2, 2, 1)) * 0.5
  keys = jax.vmap(jax.random.fold_in, (None, 0))(jax.random.key(2), jnp.arange(64))
  eps_fn = gaussian_data_eps(s, var_data)
  full = vlb.vlb_terms(eps_fn, s, x0, keys, num_t=0)
  sampled = vlb.vlb_terms(eps_fn, s, x0, keys, num_t=39)
  np.testing.assert_allclose(sampled["prior"], full["prior"])
  np.testing.assert_allclose(float(jnp.mean(sampled["diffusion"])), float(jnp.mean(full["diffusion"])), rtol=0.1)
  np.testing.assert_allclose(full["total"], full["prior"] + full["diffusion"] + full["decoder"], rtol=1e-6)
  assert float(jnp.min(full["diffusion"])) >= 0.0
  kl = vlb.gaussian_kl(jnp.ones((1, 1)), 2.0, jnp.zeros((1, 1)), 1.0)
  np.testing.assert_allclose(kl, [0.5 * (-np.log(2.0) + 2.0 + 1.0 - 1.0)], rtol=1e-6)
