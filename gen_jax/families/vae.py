"""The VAE ("vae") and the hierarchical VAE ("hvae") on the engine: one chain of L latent layers.

Training maximises the ELBO (`gen_jax.latent.model.elbo_terms`) with β on the KL, or with
`loss.iwae_k` = k > 1 the importance-weighted bound L_k itself (the IWAE of Burda et al. 2016,
`iwae_objective`), on dynamically
binarized images (a fresh Bernoulli draw of every pixel at every step, from the step key) for
the Bernoulli decoder, or on the [0, 1] grey levels for the Gaussian (MSE) decoder.
Evaluation reports the test ELBO and the IWAE bound L_k (Burda et al. 2016) as NLL in nats and
bits/dim, on the fixed binarization of the test set (`gen_jax.data.fixed_binarized`, numpy
`default_rng(eval.binarization_seed)`, seed 0: every model is scored on the same bits).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gen_jax import viz
from gen_jax.data import batched_apply, binarize, fixed_binarized
from gen_jax.latent import bounds, figures
from gen_jax.latent import model as chain
from gen_jax.nn.coders import ImageShape, check_arch
from gen_jax.registry import Family, register
from gen_jax.train import TrainState, make_optimizer, make_update


def check_config(config: ml_collections.ConfigDict) -> None:
  net = config.net
  check_arch(net.arch)
  if net.likelihood not in chain.LIKELIHOODS:
    raise ValueError(f"net.likelihood must be one of {', '.join(chain.LIKELIHOODS)}, got {net.likelihood!r}")
  n = len(net.latents)
  if n < 1 or len(net.encoder_widths) != n or len(net.decoder_widths) != n:
    raise ValueError(f"net.latents, net.encoder_widths and net.decoder_widths need one entry per stochastic "
                     f"layer; got {n}, {len(net.encoder_widths)} and {len(net.decoder_widths)}")
  k, chunk = config.eval.iwae_k, min(config.eval.iwae_chunk, config.eval.iwae_k)
  if k < 1 or chunk < 1 or k % chunk:
    raise ValueError(f"eval.iwae_k must be >= 1 and eval.iwae_chunk must divide it, got {k} and {chunk}")
  if config.loss.beta < 0:
    raise ValueError(f"loss.beta must be >= 0, got {config.loss.beta}")
  train_k = config.loss.get("iwae_k", 1)
  if train_k < 1 or (train_k > 1 and config.loss.beta != 1.0):
    raise ValueError(f"loss.iwae_k must be >= 1, and the IWAE objective (iwae_k > 1) has no KL term to weight: "
                     f"it needs loss.beta = 1; got iwae_k={train_k}, beta={config.loss.beta}")


def split_layers(eps: jax.Array, latents) -> list[jax.Array]:
  """One noise draw [n, Σ d_l] -> the noises ε_l [n, d_l] of the layers."""
  return jnp.split(eps, np.cumsum(latents)[:-1], axis=1)


def noises(key, n: int, latents) -> list[jax.Array]:
  """ε_l ~ N(0, I) [n, d_l] for every layer, from one key: one draw of [n, Σ d_l], split."""
  return split_layers(jax.random.normal(key, (n, sum(latents)), jnp.float32), latents)


def iwae_objective(model, params, x, *, k: int, key, likelihood: str, decoder_std: float):
  """(L_k [B], log w [B, k]) for images x [B, H, W, C]: k reparameterised samples per image,
  L_k = logsumexp_i log w_i - log k (Burda et al. 2016, eq. 8). Its gradient weights each
  sample's ∇ log w_i by its normalised importance weight; k = 1 is the (sampled-KL) ELBO."""
  b = x.shape[0]
  h1 = model.apply({"params": params}, 0, x, method=chain.ChainVAE.q)  # q(z_1|x) once per image
  eps = noises(key, b * k, model.latents)  # [B*k, d_l], image-major
  lw = chain.log_weights(model, params, x, h1, eps, likelihood=likelihood, decoder_std=decoder_std)
  lw = lw.reshape(b, k)
  return jax.nn.logsumexp(lw, axis=1) - np.log(k), lw


@register("vae")
@register("hvae")
def build(config: ml_collections.ConfigDict, *, axis_name: str | None = None) -> Family:
  check_config(config)
  net, ev = config.net, config.eval
  latents = tuple(net.latents)
  likelihood, std = net.likelihood, float(net.get("decoder_std", 1.0))
  train_k = int(config.loss.get("iwae_k", 1))  # 1: the ELBO; k > 1: the IWAE bound L_k
  tx = make_optimizer(config.optimizer)
  image_shape = ImageShape()  # learnt from the example batch when init is traced
  model_for = lambda shape: chain.ChainVAE(net.arch, tuple(shape), latents, tuple(map(tuple, net.encoder_widths)),
                                           tuple(map(tuple, net.decoder_widths)), net.activation)

  def init(key, example):
    x = jnp.asarray(example["image"][:1])
    params = model_for(image_shape.record(x)).init({"params": key}, x)["params"]
    return TrainState.create(params=params, opt_state=tx.init(params))

  def loss_fn(params, batch, *, key, batch_stats):
    x = batch["image"]  # [B, H, W, C] in [0, 1]
    if likelihood == "bernoulli" and config.data.binarize == "dynamic":
      x = binarize(x, key=jax.random.fold_in(key, 0))
    if train_k > 1:
      bound, lw = iwae_objective(model_for(x.shape[1:]), params, x, k=train_k, key=jax.random.fold_in(key, 1),
                                 likelihood=likelihood, decoder_std=std)
      return -jnp.mean(bound), ({f"iwae{train_k}": jnp.mean(bound), "elbo": jnp.mean(lw)}, batch_stats)
    eps = noises(jax.random.fold_in(key, 1), x.shape[0], latents)
    log_px, kl = chain.elbo_terms(model_for(x.shape[1:]), params, x, eps, likelihood=likelihood, decoder_std=std)
    loss = -jnp.mean(log_px - config.loss.beta * kl)
    return loss, ({"elbo": jnp.mean(log_px - kl), "kl": jnp.mean(kl), "reconstruction": jnp.mean(log_px)},
                  batch_stats)

  @jax.jit
  def bounds_chunk(params, x, index, key):
    """(L_k, ELBO) [B] of images x [B, H, W, C], example i's samples from fold_in(key, index[i])."""
    model, b = model_for(x.shape[1:]), x.shape[0]
    h1 = model.apply({"params": params}, 0, x, method=chain.ChainVAE.q)  # q(z_1|x) once per image

    def log_w(sample_keys):  # [B, C] -> [B, C]
      c = sample_keys.shape[1]
      eps = jax.vmap(jax.vmap(lambda kk: jax.random.normal(kk, (sum(latents),), jnp.float32)))(sample_keys)
      eps = split_layers(eps.reshape(b * c, -1), latents)
      lw = chain.log_weights(model, params, x, h1, eps, likelihood=likelihood, decoder_std=std)
      return lw.reshape(b, c)

    keys = jax.vmap(jax.random.fold_in, (None, 0))(key, index)
    return bounds.iwae_bounds(log_w, keys, k=ev.iwae_k, chunk=min(ev.iwae_chunk, ev.iwae_k))

  def test_inputs(split):
    x = image_shape.test_images(split["image"], ev.get("num_examples", -1))
    return fixed_binarized(x, seed=ev.binarization_seed) if likelihood == "bernoulli" else x

  def evaluate(state, split, key):
    x = test_inputs(split)
    chunks = {"image": x, "index": np.arange(len(x), dtype=np.int32)}
    out = batched_apply(lambda c: bounds_chunk(state.params, c["image"], c["index"], key), chunks, ev.batch_size)
    iwae, elbo = (np.asarray(o, np.float64) for o in out)
    dims = int(np.prod(x.shape[1:]))
    return {"test_elbo": float(elbo.mean()), "test_nll_elbo": float(-elbo.mean()),
            f"test_nll_iwae{ev.iwae_k}": float(-iwae.mean()),
            "test_bits_per_dim_elbo": bounds.bits_per_dim(float(-elbo.mean()), dims),
            f"test_bits_per_dim_iwae{ev.iwae_k}": bounds.bits_per_dim(float(-iwae.mean()), dims),
            "iwae_k": ev.iwae_k, "num_examples": len(x)}

  @functools.partial(jax.jit, static_argnums=(2, 3))  # compiled once per (num, shape), not per call
  def draw_means(params, key, num, shape):
    keys = jax.vmap(jax.random.fold_in, (None, 0))(key, jnp.arange(num))
    eps = jax.vmap(lambda kk: jax.random.normal(kk, (sum(latents),), jnp.float32))(keys)  # [N, Σd], sample i: key i
    *lower, top = split_layers(eps, latents)
    return chain.decode_top(model_for(shape), params, top, eps=lower or None)

  def sample(state, key, num, labels=None):
    del labels
    return viz.to_uint8(draw_means(state.params, key, int(num), image_shape.get()))

  def report(state, train, workdir):
    figures.write_latent_figures(model_for, state.params, np.asarray(train["image"][:512]), workdir)

  return Family(name=config.model, init=init, update=make_update(loss_fn, tx, axis_name=axis_name),
                evaluate=evaluate, sample=sample, report=report)
