"""The adversarial autoencoder (Makhzani, Shlens, Jaitly, Goodfellow, Frey 2016,
"Adversarial Autoencoders", arXiv:1511.05644), on the two-player step of
`gen_jax.train.adversarial`.

  encoder      z = E_θ(x)            deterministic code [B, D]
  decoder      p_θ(x | z) = Π_pixels Bernoulli(x; σ(F_θ(z)))
  prior        p(z): "normal" N(0, I_D), or "mixture" (below)
  discriminator D_φ(z): an MLP on z -> one logit (prior sample vs code)

Training images in [0, 1] are binarized dynamically, x ~ Bernoulli(pixels), from the step
key. Each step (one jitted update, two optimizers):

  1. discriminator (`discriminator_optimizer`), real z_p ~ p(z), fake z_q = E_θ(x):
       L_D(φ) = E[softplus(-D_φ(z_p))] + E[softplus(D_φ(z_q))]
  2. autoencoder (`optimizer`; the "generator" player: encoder + decoder), against the
     updated D_φ, reconstruction plus the non-saturating generator loss:
       L_G(θ) = E[BCE(x, F_θ(E_θ(x)))] + λ · E[softplus(-D_φ(E_θ(x)))]
     with BCE summed over pixels (nats/image) and λ = `loss.adversarial_weight`.

The paper runs reconstruction and regularisation as separate phases; here they share one
loss and one optimizer step of the autoencoder, after the discriminator's.

Mixture prior (`net.prior = "mixture"`): K = `net.prior_components` (10) equally weighted
Gaussians N(μ_k, s² I_D), s = `net.prior_std`, with means on a circle of radius
r = `net.prior_radius` in the first two dimensions and 0 elsewhere:
  μ_k = (r cos(2πk/K), r sin(2πk/K), 0, ..., 0),   k = 0, ..., K-1.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from gen_jax import viz
from gen_jax.data import batched_apply, binarize, fixed_binarized
from gen_jax.nn import MLP, Decoder, Encoder, ImageShape
from gen_jax.nn.coders import activation, check_arch
from gen_jax.nn.coders import check_images as check_image_batch
from gen_jax.registry import Family, register
from gen_jax.train import make_optimizer
from gen_jax.train.adversarial import DISCRIMINATOR, GENERATOR, init_state, make_two_player_update

PRIORS = ("normal", "mixture")


def prior_means(net: ml_collections.ConfigDict) -> jax.Array:
  """The mixture prior's means μ_k [K, D] (see the module docstring)."""
  k = jnp.arange(net.prior_components).astype(jnp.float32)
  angle = 2 * jnp.pi * k / net.prior_components  # [K]
  circle = net.prior_radius * jnp.stack([jnp.cos(angle), jnp.sin(angle)], -1)  # [K, 2]
  return jnp.pad(circle, ((0, 0), (0, net.latent_dim - 2)))  # [K, D]


def prior_draw(net: ml_collections.ConfigDict, key: jax.Array):
  """One draw z [D] from the prior and its mixture component (0 for the normal prior)."""
  k_comp, k_eps = jax.random.split(key)
  eps = jax.random.normal(k_eps, (net.latent_dim,))  # [D]
  if net.prior == "normal":
    return eps, jnp.zeros((), jnp.int32)
  component = jax.random.randint(k_comp, (), 0, net.prior_components)
  return prior_means(net)[component] + net.prior_std * eps, component


def prior_sample(net: ml_collections.ConfigDict, key: jax.Array, num: int):
  """(z [num, D], components [num]); draw i uses fold_in(key, i), so it ignores `num`."""
  keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(num))
  return jax.vmap(lambda k: prior_draw(net, k))(keys)


def prior_log_prob(net: ml_collections.ConfigDict, z: jax.Array) -> jax.Array:
  """log p(z) [N] of codes z [N, D]."""
  d = net.latent_dim
  normal = lambda u, s: -0.5 * jnp.sum(u**2, -1) / s**2 - d * jnp.log(s) - 0.5 * d * jnp.log(2 * jnp.pi)
  if net.prior == "normal":
    return normal(z, 1.0)
  per = normal(z[:, None, :] - prior_means(net)[None], net.prior_std)  # [N, K]
  return jax.nn.logsumexp(per, -1) - jnp.log(net.prior_components)


def check_net(net: ml_collections.ConfigDict) -> None:
  check_arch(net.arch)
  activation(net.act)
  if net.prior not in PRIORS:
    raise ValueError(f"unknown net.prior {net.prior!r}; valid: {', '.join(PRIORS)}")
  if net.prior == "mixture" and net.latent_dim < 2:
    raise ValueError(f"the mixture prior needs net.latent_dim >= 2, got {net.latent_dim}")


def check_images(x, shape=None) -> None:
  check_image_batch(x, shape, model="aae")


def bce_per_image(logits: jax.Array, x: jax.Array) -> jax.Array:
  """-log p(x | logits) summed over pixels: [B, H, W, C] -> [B] nats/image."""
  return jnp.sum(optax.sigmoid_binary_cross_entropy(logits, x), axis=(1, 2, 3))


@register("aae")
def build(config: ml_collections.ConfigDict, *, axis_name: str | None = None) -> Family:
  net = config.net
  check_net(net)
  encoder = Encoder(arch=net.arch, widths=tuple(net.encoder_widths), out=net.latent_dim, act=net.act)
  disc = MLP(hidden=tuple(net.discriminator_hidden), out=1, activation=activation(net.discriminator_act))
  tx_g, tx_d = make_optimizer(config.optimizer), make_optimizer(config.discriminator_optimizer)
  weight = config.loss.adversarial_weight
  # The image shape comes from the data: the decoder takes it from the batch; `init` records
  # it for `sample` (the engine always runs `init`, or traces it with eval_shape, first).
  image = ImageShape()

  def decoder(shape=None):
    shape = tuple(shape or image.get())
    return Decoder(arch=net.arch, widths=tuple(net.decoder_widths), shape=shape, act=net.act)

  def encode(g, x):
    return encoder.apply({"params": g["encoder"]}, x)  # [B, D]

  def decode(g, z, shape=None):
    return decoder(shape).apply({"params": g["decoder"]}, z)  # [B, H, W, C] logits

  def critic(d, z):
    return disc.apply({"params": d}, z)[:, 0]  # [B] logits

  def init(key, example):
    x = jnp.asarray(example["image"][:1])  # [1, H, W, C]
    check_images(x)
    image.record(x)
    return init_jit(key, x)

  @jax.jit  # one compilation instead of one per eager op
  def init_jit(key, x):
    k_enc, k_dec, k_disc = jax.random.split(key, 3)
    z = jnp.zeros((1, net.latent_dim), x.dtype)
    g = {"encoder": encoder.init(k_enc, x)["params"], "decoder": decoder(x.shape[1:]).init(k_dec, z)["params"]}
    return init_state(disc.init(k_disc, z)["params"], g, tx_d, tx_g)

  def d_loss_fn(d, g, batch, *, key, batch_stats):
    """L_D(φ) = E[softplus(-D(z_p))] + E[softplus(D(z_q))], z_q = E(x) held fixed."""
    x = batch["image"]
    check_images(x, image.shape)
    k_bin, k_prior = jax.random.split(key)
    z_q = jax.lax.stop_gradient(encode(g, binarize(x, key=k_bin)))  # [B, D]
    z_p, _ = prior_sample(net, k_prior, x.shape[0])  # [B, D]
    real, fake = critic(d, z_p), critic(d, z_q)  # [B], [B]
    loss = jnp.mean(jax.nn.softplus(-real)) + jnp.mean(jax.nn.softplus(fake))
    accuracy = 0.5 * (jnp.mean(real > 0) + jnp.mean(fake < 0))
    return loss, ({"d_accuracy": accuracy}, batch_stats)

  def g_loss_fn(g, d, batch, *, key, batch_stats):
    """L_G(θ) = E[BCE(x, F(E(x)))] + λ E[softplus(-D(E(x)))]."""
    x = binarize(batch["image"], key=key)  # [B, H, W, C]
    check_images(x, image.shape)
    z = encode(g, x)  # [B, D]
    recon = jnp.mean(bce_per_image(decode(g, z, x.shape[1:]), x))
    adversarial = jnp.mean(jax.nn.softplus(-critic(d, z)))
    return recon + weight * adversarial, ({"recon_bce": recon, "adversarial": adversarial}, batch_stats)

  @jax.jit
  def eval_chunk(params, chunk, key):
    """Per example i: its own binarization fold_in(k0, i) and prior draw fold_in(k1, i)."""
    g, d = params[GENERATOR], params[DISCRIMINATOR]
    k_bin, k_prior = jax.random.split(key)
    keys = jax.vmap(lambda i: jax.random.fold_in(k_bin, i))(chunk["index"])
    x = jax.vmap(lambda k, im: binarize(im, key=k))(keys, chunk["image"])  # [B, H, W, C]
    z_q = encode(g, x)  # [B, D]
    logits = decode(g, z_q, x.shape[1:])
    z_p = jax.vmap(lambda i: prior_draw(net, jax.random.fold_in(k_prior, i))[0])(chunk["index"])
    mse = jnp.mean((jax.nn.sigmoid(logits) - chunk["image"]) ** 2, axis=(1, 2, 3))
    correct = 0.5 * ((critic(d, z_p) > 0).astype(jnp.float32) + (critic(d, z_q) < 0).astype(jnp.float32))
    return {"bce": bce_per_image(logits, x), "mse": mse, "correct": correct}

  def evaluate(state, split, key):
    """Test reconstruction BCE (nats/image, dynamically binarized from `key`), the MSE of the
    decoder's means to the [0, 1] images, the discriminator's accuracy on codes vs prior."""
    check_images(split["image"], image.shape)
    arrays = {"image": split["image"], "index": np.arange(len(split["image"]), dtype=np.int32)}
    out = batched_apply(lambda c: eval_chunk(state.params, c, key), arrays, config.eval.batch_size)
    return {"test_recon_bce": float(np.mean(out["bce"])),
            "test_mse": float(np.mean(out["mse"])), "test_disc_accuracy": float(np.mean(out["correct"]))}

  @functools.partial(jax.jit, static_argnums=2)
  def generate(g, key, num):
    z, _ = prior_sample(net, key, num)  # [N, D]
    return jax.nn.sigmoid(decode(g, z))  # [N, H, W, C]

  def sample(state, key, num, labels=None):
    """uint8 images [N, H, W, C]: z_i ~ p(z) with key fold_in(key, i), decoder means."""
    del labels
    probs = generate(state.params[GENERATOR], key, int(num))
    return viz.to_uint8(probs)

  @jax.jit
  def reconstruct(g, x):
    z = encode(g, x)
    return z, jax.nn.sigmoid(decode(g, z, x.shape[1:]))

  def report(state, train, workdir):
    """latent_space.png (first two code dims of up to 5,000 training images by digit, over
    prior samples) and reconstructions.png (rows: binarized inputs, their reconstructions)."""
    workdir, g = Path(workdir), state.params[GENERATOR]
    n = min(5000, len(train["image"]))
    x = fixed_binarized(np.asarray(train["image"][:n]), seed=0)
    out = batched_apply(lambda c: dict(zip(("z", "p"), reconstruct(g, c["image"]))), {"image": x},
                        min(n, config.eval.batch_size))
    z_p, _ = jax.jit(lambda k: prior_sample(net, k, n))(jax.random.key(0))
    plot_latents(np.asarray(out["z"]), np.asarray(train["label"][:n]), np.asarray(z_p),
                 workdir / "latent_space.png", title=f"AAE codes ({net.prior} prior), step {int(state.step)}")
    m = min(32, n) // 8 * 8
    pairs = [im for r in range(0, m, 8) for im in (*viz.to_uint8(x[r:r + 8]), *viz.to_uint8(out["p"][r:r + 8]))]
    if pairs:
      viz.save_grid(np.stack(pairs), workdir / "reconstructions.png", columns=8)

  return Family(name="aae", init=init, update=make_two_player_update(d_loss_fn, g_loss_fn, tx_d, tx_g,
                                                                       axis_name=axis_name),
                evaluate=evaluate, sample=sample, report=report)


def plot_latents(z: np.ndarray, labels: np.ndarray, z_prior: np.ndarray, path, *, title: str) -> None:
  """Scatter of codes z [N, D] (first two dims) coloured by digit, prior samples in grey."""
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(6.5, 5.5))
  second = (lambda a: a[:, 1]) if z.shape[1] > 1 else (lambda a: np.zeros(len(a)))
  ax.scatter(z_prior[:, 0], second(z_prior), s=3, c="lightgray", alpha=0.5, label="prior samples")
  points = ax.scatter(z[:, 0], second(z), s=3, c=labels, cmap="tab10", vmin=-0.5, vmax=9.5, alpha=0.7)
  fig.colorbar(points, ax=ax, ticks=range(10), label="digit")
  ax.set_xlabel("z[0]")
  ax.set_ylabel("z[1]")
  ax.set_title(title)
  ax.legend(loc="upper right", markerscale=4)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)
