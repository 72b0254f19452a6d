"""The losses of the GAN game, on discriminator logits (or critic values) of real and fake batches.

With D(x) = σ(l(x)) (Goodfellow et al. 2014, "Generative Adversarial Nets"):
  discriminator   L_D = -E[log D(x)] - E[log(1 - D(G(z)))] = E[softplus(-l(x))] + E[softplus(l(G(z)))]
  minimax G       L_G =  E[log(1 - D(G(z)))]               = -E[softplus(l(G(z)))]   (saturating)
  non-saturating  L_G = -E[log D(G(z))]                    =  E[softplus(-l(G(z)))]
The minimax loss saturates where D rejects the fakes (l → -∞): ∂L_G/∂l = -σ(l) → 0, while the
non-saturating loss keeps ∂L_G/∂l = -σ(-l) → -1 there (the paper's remark in sec. 3).

Wasserstein GAN with gradient penalty (Gulrajani et al. 2017, "Improved Training of
Wasserstein GANs"), critic values f:
  critic          L_f = E[f(G(z))] - E[f(x)] + λ E[(||∇_x̂ f(x̂)||₂ - 1)²],  x̂ = ε x + (1 - ε) G(z),
                  ε ~ U[0, 1] drawn per sample
  generator       L_G = -E[f(G(z))]

InfoGAN (Chen et al. 2016): the mutual information I(c; G(z, c)) is bounded below by
E[log Q(c | G(z, c))] + H(c); both players minimise `info_terms` = -E[log Q(c | x)] up to a
constant: cross-entropy for the categorical code, and for the continuous codes a unit-variance
Gaussian Q, i.e. ½ Σ_j (c_j - μ_j(x))².
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax


def discriminator_bce(real: jax.Array, fake: jax.Array) -> jax.Array:
  """-E[log D(x)] - E[log(1 - D(G(z)))] from logits real [B], fake [B]."""
  return jnp.mean(jax.nn.softplus(-real)) + jnp.mean(jax.nn.softplus(fake))


def generator_minimax(fake: jax.Array) -> jax.Array:
  """E[log(1 - D(G(z)))] = -E[softplus(l)]: the original, saturating generator loss."""
  return -jnp.mean(jax.nn.softplus(fake))


def generator_non_saturating(fake: jax.Array) -> jax.Array:
  """-E[log D(G(z))] = E[softplus(-l)]."""
  return jnp.mean(jax.nn.softplus(-fake))


def critic_wasserstein(real: jax.Array, fake: jax.Array) -> jax.Array:
  """E[f(G(z))] - E[f(x)]: the critic's side of the Wasserstein-1 estimate (penalty apart)."""
  return jnp.mean(fake) - jnp.mean(real)


def generator_wasserstein(fake: jax.Array) -> jax.Array:
  """-E[f(G(z))]."""
  return -jnp.mean(fake)


class GameLoss(NamedTuple):
  discriminator: Callable[[jax.Array, jax.Array], jax.Array]  # (real, fake) -> scalar
  generator: Callable[[jax.Array], jax.Array]                 # fake -> scalar
  wasserstein: bool                                           # critic values, not logits


# config.loss.name -> the game
GAMES = {
    "non_saturating": GameLoss(discriminator_bce, generator_non_saturating, False),
    "minimax": GameLoss(discriminator_bce, generator_minimax, False),
    "wasserstein": GameLoss(critic_wasserstein, generator_wasserstein, True),
}


def game(name: str) -> GameLoss:
  if name not in GAMES:
    raise ValueError(f"unknown loss.name {name!r}; valid: {', '.join(GAMES)}")
  return GAMES[name]


def interpolates(real: jax.Array, fake: jax.Array, *, key: jax.Array) -> jax.Array:
  """x̂ = ε x + (1 - ε) x̃ with one ε ~ U[0, 1] per sample: [B, ...] -> [B, ...]."""
  eps = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1), real.dtype)
  return eps * real + (1.0 - eps) * fake


def gradient_penalty(critic: Callable[..., jax.Array], x_hat: jax.Array, labels: jax.Array | None = None) -> jax.Array:
  """(||∇_x̂ f(x̂)||₂ - 1)² per sample [B], on each sample's gradient flattened over its pixels.

  `critic(x [N, ...], labels [N] or None)` gives values [N] and must treat samples independently
  (no batch norm; Gulrajani et al. use none in the critic). Then the gradient of Σ_i f(x̂_i)
  with respect to x̂_i is sample i's own ∇f(x̂_i), so one backward pass over the batch gives every
  per-sample gradient (a `vmap` of `grad` over samples gives the same numbers, several times
  slower on XLA's CPU backend for convolutional critics). The norm is sqrt(Σ g² + 1e-12),
  finite in gradient even where g = 0."""
  grads = jax.grad(lambda x: jnp.sum(critic(x, labels)))(x_hat)  # [B, ...]: row i = ∇f(x̂_i)
  norms = jnp.sqrt(jnp.sum(grads.reshape(grads.shape[0], -1) ** 2, axis=1) + 1e-12)  # [B]
  return (norms - 1.0) ** 2


def info_terms(q_out: jax.Array, categorical: jax.Array | None, continuous: jax.Array | None):
  """(categorical, continuous) parts of -E[log Q(c | x)], up to constants, from the Q head's
  outputs q_out [B, K + J]: K logits of the categorical code (labels categorical [B]), then J
  means of the continuous codes (continuous [B, J]). An absent code (None) contributes 0."""
  zero = jnp.zeros((), q_out.dtype)
  j = 0 if continuous is None else continuous.shape[1]
  k = q_out.shape[1] - j
  cat = zero if categorical is None else jnp.mean(
      optax.softmax_cross_entropy_with_integer_labels(q_out[:, :k], categorical))
  cont = zero if continuous is None else jnp.mean(0.5 * jnp.sum((continuous - q_out[:, k:]) ** 2, axis=1))
  return cat, cont
