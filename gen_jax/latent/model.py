"""The VAE and the hierarchical VAE: one Markov chain of L >= 1 Gaussian stochastic layers.

Generative model (top-down):  p(z_L) = N(0, I),  p(z_l | z_{l+1}) = N(μ, σ²) for l < L,
                              p(x | z_1) = Bernoulli(sigmoid(logits)) or N(sigmoid(out), s²).
Inference model (bottom-up):  q(z_1 | x), q(z_l | z_{l-1}) = N(μ, σ²).
L = 1 is the VAE of Kingma & Welling (2014); L = 2 with 100 and 50 latents is the two-layer
model of Burda et al. (2016) and the book's hierarchical VAE ("Deep Learning from Scratch 5").

ELBO = E_q[log p(x|z_1) + Σ_{l<L} log p(z_l|z_{l+1}) - Σ_{l<L} log q(z_l|·)] - E_q[KL(q(z_L|·) || p(z_L))]
(the top KL in closed form, the rest by one reparameterized sample); β weights every KL term.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gen_jax.latent import bounds
from gen_jax.nn import Decoder, Encoder

LIKELIHOODS = ("bernoulli", "gaussian")


class ChainVAE(nn.Module):
  """Networks of the chain. widths[l] are the hidden widths of layer l+1's network:
  encoder_widths[0] of q(z_1|x), encoder_widths[l] of q(z_{l+1}|z_l); decoder_widths[0] of
  p(x|z_1), decoder_widths[l] of p(z_l|z_{l+1})."""

  arch: str                               # "mlp" | "conv": the networks that touch x
  shape: tuple[int, int, int]             # image shape (H, W, C), from the data
  latents: Sequence[int]                  # (d_1, ..., d_L)
  encoder_widths: Sequence[Sequence[int]]
  decoder_widths: Sequence[Sequence[int]]
  act: str = "tanh"

  def setup(self):
    n = len(self.latents)
    self.q_nets = [Encoder(self.arch if l == 0 else "mlp", tuple(self.encoder_widths[l]),
                           2 * self.latents[l], self.act) for l in range(n)]
    self.p_nets = [Encoder("mlp", tuple(self.decoder_widths[l]), 2 * self.latents[l - 1], self.act)
                   for l in range(1, n)]
    self.x_net = Decoder(self.arch, tuple(self.decoder_widths[0]), self.shape, self.act)

  def q(self, l: int, h: jax.Array):
    """(μ, log σ²) [N, d_{l+1}] of q(z_{l+1} | h), h = x for l = 0 else z_l."""
    mean, raw = jnp.split(self.q_nets[l](h), 2, axis=-1)
    return mean, bounds.bound_log_var(raw)

  def p(self, l: int, z: jax.Array):
    """(μ, log σ²) of p(z_l | z_{l+1}) for l = 1..L-1, given z = z_{l+1}."""
    mean, raw = jnp.split(self.p_nets[l - 1](z), 2, axis=-1)
    return mean, bounds.bound_log_var(raw)

  def decode(self, z1: jax.Array, x: jax.Array | None = None):
    """Per-pixel outputs [N, H, W, C] of p(x | z_1): logits, or the pre-sigmoid Gaussian mean;
    given images x [G, H, W, C] (N = G*K, K latents per image) also x·outputs [N] (`Decoder`)."""
    return self.x_net(z1, x)

  def __call__(self, x: jax.Array):  # touches every network once (init)
    h, zs = x, []
    for l in range(len(self.latents)):
      h = self.q(l, h)[0]
      zs.append(h)
    outs = [self.p(l, zs[l]) for l in range(1, len(self.latents))]
    return self.decode(zs[0]), outs


def x_log_prob(x: jax.Array, out: jax.Array, likelihood: str, decoder_std: float) -> jax.Array:
  """log p(x | z_1) [N] from the decoder outputs [N, H, W, C]."""
  x, out = x.reshape(x.shape[0], -1), out.reshape(out.shape[0], -1)
  if likelihood == "bernoulli":
    return bounds.bernoulli_log_prob(x, out)
  log_var = jnp.full_like(out, 2 * jnp.log(decoder_std))
  return bounds.gaussian_log_prob(x, jax.nn.sigmoid(out), log_var)


def infer(model: ChainVAE, params, x, eps: Sequence[jax.Array], h1=None):
  """Samples z_1..z_L of q given noises eps[l] [N, d_l]; returns (zs, stats [(μ, log σ²)], log q [N]).
  `h1` = q's first-layer (μ, log σ²) if already computed (IWAE encodes x once per example)."""
  apply = lambda method, *a: model.apply({"params": params}, *a, method=method)
  zs, stats, log_q, h = [], [], 0.0, x
  for l, e in enumerate(eps):
    mean, log_var = h1 if (l == 0 and h1 is not None) else apply(ChainVAE.q, l, h)
    h = bounds.reparameterize(mean, log_var, e)
    zs.append(h)
    stats.append((mean, log_var))
    log_q = log_q + bounds.gaussian_log_prob(h, mean, log_var)
  return zs, stats, log_q


def log_joint_parts(model: ChainVAE, params, x, zs, likelihood: str, decoder_std: float):
  """(log p(x | z_1), Σ_{l<L} log p(z_l | z_{l+1}), log p(z_L)), each [N]."""
  log_px = x_log_prob(x, model.apply({"params": params}, zs[0], method=ChainVAE.decode), likelihood, decoder_std)
  return log_px, lower_log_prob(model, params, zs), bounds.standard_normal_log_prob(zs[-1])


def lower_log_prob(model: ChainVAE, params, zs) -> jax.Array:
  """Σ_{l<L} log p(z_l | z_{l+1}) [N]: zero for a single stochastic layer."""
  apply = lambda l: model.apply({"params": params}, l, zs[l], method=ChainVAE.p)
  return sum((bounds.gaussian_log_prob(zs[l - 1], *apply(l)) for l in range(1, len(zs))), jnp.zeros(zs[0].shape[0]))


def elbo_terms(model: ChainVAE, params, x, eps, *, likelihood: str, decoder_std: float = 1.0):
  """Per-example (reconstruction log p(x|z_1), KL) with ELBO = reconstruction - KL, in nats [N].

  The top layer's KL is analytic; the lower layers' KL terms are one-sample estimates."""
  zs, stats, _ = infer(model, params, x, eps)
  log_px, log_pz, _ = log_joint_parts(model, params, x, zs, likelihood, decoder_std)
  log_q_lower = sum((bounds.gaussian_log_prob(zs[l], *stats[l]) for l in range(len(zs) - 1)),
                    jnp.zeros_like(log_px))
  kl = bounds.gaussian_kl(*stats[-1]) + log_q_lower - log_pz
  return log_px, kl


def grouped_x_log_prob(model: ChainVAE, params, x, z1, likelihood: str, decoder_std: float) -> jax.Array:
  """log p(x_g | z_{g,k}) [G*K] for images x [G, H, W, C] and K latents per image z1 [G*K, d_1]
  (image-major), without repeating x K times. Bernoulli: x·l - Σ softplus(l), x·l from the decoder."""
  g, n = x.shape[0], z1.shape[0]
  if likelihood == "bernoulli":
    logits, x_dot = model.apply({"params": params}, z1, x, method=ChainVAE.decode)
    return x_dot - jnp.sum(bounds.softplus(logits.reshape(n, -1)), axis=-1)
  mean = jax.nn.sigmoid(model.apply({"params": params}, z1, method=ChainVAE.decode).reshape(g, n // g, -1))
  log_var = jnp.full_like(mean, 2 * jnp.log(decoder_std))
  return bounds.gaussian_log_prob(x.reshape(g, 1, -1), mean, log_var).reshape(n)  # x broadcast over K


def log_weights(model: ChainVAE, params, x, h1, eps, *, likelihood: str, decoder_std: float = 1.0):
  """log w = log p(x, z) - log q(z | x) [G*K] for images x [G, H, W, C] and K samples per image
  drawn from noises eps[l] [G*K, d_l] (image-major); h1 = q(z_1 | x)'s (μ, log σ²) [G, d_1]."""
  k = eps[0].shape[0] // x.shape[0]
  zs, _, log_q = infer(model, params, None, eps, h1=tuple(jnp.repeat(a, k, axis=0) for a in h1))
  log_px = grouped_x_log_prob(model, params, x, zs[0], likelihood, decoder_std)
  return log_px + lower_log_prob(model, params, zs) + bounds.standard_normal_log_prob(zs[-1]) - log_q


def encode_mean(model: ChainVAE, params, x) -> jax.Array:
  """The top latent reached through q's means: z_L [N, d_L] (for interpolations, traversals)."""
  h = x
  for l in range(len(model.latents)):
    h = model.apply({"params": params}, l, h, method=ChainVAE.q)[0]
  return h


def decode_top(model: ChainVAE, params, z_top, eps=None) -> jax.Array:
  """Image means [N, H, W, C] in [0, 1] from z_L, down the chain: with noises eps[l] for
  z_1..z_{L-1} an ancestral sample of p, without them the chain of means."""
  apply = lambda method, *a: model.apply({"params": params}, *a, method=method)
  z = z_top
  for l in range(len(model.latents) - 1, 0, -1):
    mean, log_var = apply(ChainVAE.p, l, z)
    z = mean if eps is None else bounds.reparameterize(mean, log_var, eps[l - 1])
  return jax.nn.sigmoid(apply(ChainVAE.decode, z))
