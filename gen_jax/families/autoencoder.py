"""Autoencoders of images: basic, deep (MLP or conv), sparse and denoising, on one objective.

Encoder f and decoder g (`gen_jax.nn.coders`); the code is z = f(x̃) (passed through a sigmoid
for the KL sparsity penalty, whose target is a firing rate), the decoder gives per-pixel
logits ℓ = g(z) and the reconstruction is x̂ = σ(ℓ). x̃ = x without noise, or a corruption
c(x) drawn from the per-step key (denoising). The loss of a batch of B images is

  L(θ) = 1/B Σ_b r(ℓ_b, x_b) + Ω(Z),   the target is always the *clean* image x_b,

  r = Σ_pixels BCE(σ(ℓ), x)   ("bce": nats per image; x in [0, 1])
    | mean_pixels (σ(ℓ) - x)²  ("mse": per-pixel squared error)
  Ω = 0 | λ · mean_{b,j} |z_bj|                           ("l1": activity penalty)
        | λ · Σ_j KL(ρ ‖ ρ̂_j),  ρ̂_j = 1/B Σ_b z_bj       ("kl": Ng's sparse autoencoder)

Evaluation is deterministic (no noise): test MSE (per pixel, averaged over images), BCE (nats
per image) and, when `data.train_labels` is set (anomaly detection), the AUROC of the per-image
MSE for telling the held-out digits (positives) from the trained ones.
"""

from __future__ import annotations

from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from gen_jax import data, viz
from gen_jax.data import batched_apply
from gen_jax.metrics.ranking import auroc
from gen_jax.nn.coders import Decoder, Encoder, activation, check_arch
from gen_jax.registry import Family, register
from gen_jax.train import TrainState, make_optimizer, make_update

NOISES = ("none", "gaussian", "masking", "salt_pepper")
SPARSITIES = ("none", "l1", "kl")
RECONSTRUCTIONS = ("bce", "mse")
REPORT_NOISE_SEED = 0   # denoising.png corrupts its images with jax.random.key(0)
REPORT_COLUMNS = 16     # images per row of reconstructions.png and denoising.png
SCATTER_POINTS = 5000   # codes drawn in latent_space.png


def check_images(images) -> tuple[int, int, int]:
  """The (H, W, C) of a batch of images [B, H, W, C]; a ValueError for any other shape."""
  shape = tuple(np.shape(images))
  if len(shape) != 4:
    raise ValueError(f"the autoencoder expects images of shape [B, H, W, C] (e.g. [B, 28, 28, 1]); "
                     f"got an array of shape {list(shape)}")
  return shape[1:]


def _choice(value: str, valid: tuple[str, ...], key: str) -> str:
  if value not in valid:
    raise ValueError(f"unknown {key} {value!r}; valid: {', '.join(valid)}")
  return value


class AutoEncoder(nn.Module):
  """x [B, H, W, C] -> (logits [B, H, W, C], code z [B, latent_dim])."""

  arch: str
  encoder_widths: tuple[int, ...]
  decoder_widths: tuple[int, ...]
  latent_dim: int
  shape: tuple[int, int, int]
  act: str = "relu"
  sigmoid_codes: bool = False  # z = σ(f(x)) in (0, 1): the KL penalty's firing rates

  def setup(self):
    self.encoder = Encoder(self.arch, self.encoder_widths, self.latent_dim, act=self.act)
    self.decoder = Decoder(self.arch, self.decoder_widths, shape=self.shape, act=self.act)

  def encode(self, x: jax.Array) -> jax.Array:
    z = self.encoder(x)  # [B, latent_dim]
    return nn.sigmoid(z) if self.sigmoid_codes else z

  def decode(self, z: jax.Array) -> jax.Array:
    return self.decoder(z)  # logits [B, H, W, C]

  def __call__(self, x: jax.Array):
    z = self.encode(x)
    return self.decode(z), z


def make_model(config: ml_collections.ConfigDict, shape: tuple[int, int, int]) -> AutoEncoder:
  """The autoencoder of `config.net` for images of shape (H, W, C)."""
  net = config.net
  return AutoEncoder(arch=check_arch(net.arch), encoder_widths=tuple(net.encoder_widths),
                     decoder_widths=tuple(net.decoder_widths), latent_dim=net.latent_dim,
                     shape=tuple(int(s) for s in shape), act=net.activation,
                     sigmoid_codes=config.loss.sparsity == "kl")


def l1_penalty(codes: jax.Array) -> jax.Array:
  """mean_{b,j} |z_bj| of codes [B, D] (multiply by λ for the activity penalty)."""
  return jnp.mean(jnp.abs(codes))


def kl_sparsity_penalty(codes: jax.Array, target: float) -> jax.Array:
  """Σ_j KL(ρ ‖ ρ̂_j) = Σ_j [ρ log(ρ/ρ̂_j) + (1-ρ) log((1-ρ)/(1-ρ̂_j))], ρ̂_j = mean_b z_bj,
  for codes z [B, D] in (0, 1) and target rate ρ in (0, 1) (Ng, "Sparse autoencoder", 2011)."""
  rate = jnp.clip(jnp.mean(codes, axis=0), 1e-6, 1 - 1e-6)  # ρ̂ [D]
  kl = target * jnp.log(target / rate) + (1 - target) * jnp.log((1 - target) / (1 - rate))
  return jnp.sum(kl)


def sparsity_penalty(codes: jax.Array, loss: ml_collections.ConfigDict) -> jax.Array:
  """Ω(Z) of `loss.sparsity` with weight λ = `loss.sparsity_weight`."""
  if loss.sparsity == "none":
    return jnp.zeros((), codes.dtype)
  if loss.sparsity == "l1":
    return loss.sparsity_weight * l1_penalty(codes)
  return loss.sparsity_weight * kl_sparsity_penalty(codes, loss.sparsity_target)


def reconstruction_error(logits: jax.Array, target: jax.Array, kind: str) -> jax.Array:
  """Per-image error [B] of logits and targets [B, H, W, C]:
  "bce": Σ_pixels -[x log σ(ℓ) + (1-x) log(1-σ(ℓ))] (nats); "mse": mean_pixels (σ(ℓ) - x)²."""
  if kind == "bce":
    return optax.sigmoid_binary_cross_entropy(logits, target).sum(axis=(1, 2, 3))
  return jnp.mean(jnp.square(nn.sigmoid(logits) - target), axis=(1, 2, 3))


def corrupt(images: jax.Array, key: jax.Array, noise: str, level: float) -> jax.Array:
  """A corrupted copy x̃ of images x [B, H, W, C] in [0, 1], drawn with `key`:
  "gaussian": clip(x + level·ε, 0, 1), ε ~ N(0, 1);  "masking": each pixel set to 0 with
  probability `level`;  "salt_pepper": each pixel set to 0 or 1 (equally likely) with
  probability `level`;  "none": x itself."""
  if noise == "none":
    return images
  # draws are made flat [B*H*W*C] and reshaped: XLA's CPU backend takes seconds to compile a
  # 4-D random draw, a fraction of a second for a 1-D one (same distribution)
  flat = (images.size,)
  if noise == "gaussian":
    eps = jax.random.normal(key, flat, images.dtype).reshape(images.shape)
    return jnp.clip(images + level * eps, 0, 1)
  hit_key, salt_key = jax.random.split(key)
  hit = (jax.random.uniform(hit_key, flat) < level).reshape(images.shape)  # [B, H, W, C] bool
  if noise == "masking":
    return jnp.where(hit, jnp.zeros_like(images), images)
  salt = jax.random.bernoulli(salt_key, 0.5, flat).astype(images.dtype).reshape(images.shape)
  return jnp.where(hit, salt, images)


def check_config(config: ml_collections.ConfigDict) -> None:
  """Clear errors for invalid choices before anything is traced."""
  check_arch(config.net.arch)
  activation(config.net.activation)
  _choice(config.loss.reconstruction, RECONSTRUCTIONS, "loss.reconstruction")
  _choice(config.loss.sparsity, SPARSITIES, "loss.sparsity")
  _choice(config.loss.noise, NOISES, "loss.noise")
  if config.loss.sparsity == "kl" and not 0 < config.loss.sparsity_target < 1:
    raise ValueError(f"loss.sparsity_target must be in (0, 1), got {config.loss.sparsity_target}")
  if config.loss.noise != "none" and not config.loss.noise_level > 0:
    raise ValueError(f"loss.noise_level must be > 0 with noise {config.loss.noise!r}")


@register("autoencoder")
def build(config: ml_collections.ConfigDict, *, axis_name: str | None = None) -> Family:
  check_config(config)
  tx, loss_cfg = make_optimizer(config.optimizer), config.loss
  train_labels = config.data.get("train_labels", None)
  model_for = lambda images: make_model(config, check_images(images))  # shape from the data

  def init(key, example):
    check_images(example["image"])
    images = jnp.asarray(example["image"][:1])  # [1, H, W, C]
    params = jax.jit(model_for(images).init)({"params": key}, images)["params"]  # one compile, not one per op
    return TrainState.create(params=params, opt_state=tx.init(params))

  def loss_fn(params, batch, *, key, batch_stats):
    clean = batch["image"]  # [B, H, W, C]
    noisy = corrupt(clean, key, loss_cfg.noise, loss_cfg.noise_level)  # key: this step's key
    logits, codes = model_for(clean).apply({"params": params}, noisy)
    reconstruction = reconstruction_error(logits, clean, loss_cfg.reconstruction).mean()
    penalty = sparsity_penalty(codes, loss_cfg)
    metrics = {"reconstruction": reconstruction, "sparsity": penalty}
    return reconstruction + penalty, (metrics, batch_stats)

  @jax.jit
  def errors(params, chunk):
    """Per-image test errors of a chunk {"image": [N, H, W, C]}, without noise."""
    logits, _ = model_for(chunk["image"]).apply({"params": params}, chunk["image"])
    return {kind: reconstruction_error(logits, chunk["image"], kind) for kind in RECONSTRUCTIONS}

  @jax.jit
  def reconstruct(params, images):
    logits, _ = model_for(images).apply({"params": params}, images)
    return nn.sigmoid(logits)  # [N, H, W, C] in [0, 1]

  @jax.jit
  def encode(params, chunk):
    model = model_for(chunk["image"])
    return model.apply({"params": params}, chunk["image"], method=AutoEncoder.encode)  # [N, D]

  def test_errors(state, split):
    images = {"image": split["image"]}
    check_images(images["image"])
    return batched_apply(lambda c: errors(state.params, c), images, config.eval.batch_size)

  def evaluate(state, split, key):
    del key  # evaluation is deterministic: no noise
    out = test_errors(state, split)
    results = {"test_loss": float(np.mean(out[loss_cfg.reconstruction])),
               "test_mse": float(np.mean(out["mse"])), "test_bce": float(np.mean(out["bce"]))}
    if train_labels is not None:
      results["anomaly_auroc"] = auroc(out["mse"], ~np.isin(split["label"], np.asarray(train_labels)))
    return results

  def report(state, train_split, workdir):
    workdir = Path(workdir)
    shown = np.asarray(train_split["image"][:REPORT_COLUMNS])  # [16, H, W, C]
    rows = [shown, reconstruct(state.params, shown)]
    viz.save_grid(viz.to_uint8(np.concatenate(rows)), workdir / "reconstructions.png", columns=len(shown))
    if loss_cfg.noise != "none":
      noisy = corrupt(jnp.asarray(shown), jax.random.key(REPORT_NOISE_SEED), loss_cfg.noise, loss_cfg.noise_level)
      rows = [noisy, shown, reconstruct(state.params, noisy)]
      viz.save_grid(viz.to_uint8(np.concatenate(rows)), workdir / "denoising.png", columns=len(shown))
    some = {"image": train_split["image"][:SCATTER_POINTS]}
    codes = batched_apply(lambda c: encode(state.params, c), some, config.eval.batch_size)
    plot_latent(codes, train_split["label"][:SCATTER_POINTS], workdir / "latent_space.png")
    if train_labels is not None:  # the held-out digits are only in the test split: reload it
      test = data.load(config.data)["test"]
      normal = np.isin(test["label"], np.asarray(train_labels))
      plot_anomaly_scores(test_errors(state, test)["mse"], normal, workdir / "anomaly_scores.png")

  return Family(name="autoencoder", init=init, update=make_update(loss_fn, tx, axis_name=axis_name),
                evaluate=evaluate, sample=None, report=report)


def principal_components(codes: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
  """(projections [N, k] of the centred codes on their first k principal axes, the fraction
  of variance each explains [k])."""
  centred = codes - codes.mean(0)
  _, singular, axes = np.linalg.svd(centred, full_matrices=False)
  explained = singular ** 2 / max(float(np.sum(singular ** 2)), 1e-30)
  return centred @ axes[:k].T, explained[:k]


def plot_latent(codes: np.ndarray, labels: np.ndarray, path: Path) -> None:
  """Codes [N, D] of train images coloured by digit: the codes themselves for D == 2, else
  their first two principal components."""
  codes = np.asarray(codes, np.float64)
  if codes.shape[1] == 2:
    points, title, axes = codes, f"2-D codes of {len(codes)} train images", ("z1", "z2")
  else:
    points, explained = principal_components(codes)
    title = (f"{codes.shape[1]}-D codes of {len(codes)} train images: first two principal components "
             f"({100 * explained.sum():.0f}% of variance)")
    axes = ("PC 1", "PC 2")
  fig, ax = viz.plt.subplots(figsize=(6.5, 5.5))
  colours = viz.plt.get_cmap("tab10")
  for digit in np.unique(labels):
    mine = labels == digit
    ax.scatter(points[mine, 0], points[mine, 1], s=3, alpha=0.6, color=colours(int(digit) % 10), label=str(digit))
  ax.legend(title="digit", markerscale=4, loc="center left", bbox_to_anchor=(1.0, 0.5))
  ax.set(xlabel=axes[0], ylabel=axes[1])
  ax.set_title(title, fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  viz.plt.close(fig)


def plot_anomaly_scores(errors: np.ndarray, normal: np.ndarray, path: Path) -> None:
  """Histograms of the per-image reconstruction MSE of normal vs anomalous test images."""
  score = auroc(errors, ~normal)
  fig, ax = viz.plt.subplots(figsize=(6, 4))
  bins = np.linspace(0, np.quantile(errors, 0.995), 60)
  ax.hist(errors[normal], bins=bins, density=True, alpha=0.6, label=f"normal (trained digits, {normal.sum()})")
  ax.hist(errors[~normal], bins=bins, density=True, alpha=0.6, label=f"anomalous (held out, {(~normal).sum()})")
  ax.set(xlabel="reconstruction MSE per image", ylabel="density")
  ax.set_title(f"test reconstruction errors: AUROC {score:.3f}")
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  viz.plt.close(fig)
