"""Denoising diffusion ("ddpm"): DDPM training, DDPM/DDIM sampling, classifier-free guidance.

Training (Ho et al. 2020, Alg. 1) on images x_0 in [-1, 1]: t ~ U{1..T} and ε ~ N(0, I) per
example, x_t = q_sample(x_0, t, ε), loss = mean ||ε - ε_θ(x_t, t, y)||². Conditional
(`net.num_classes` > 0): each example's label is replaced by the null label with probability
`diffusion.label_dropout` (per sample, Ho & Salimans 2022), so one network learns ε_θ(x, y)
and ε_θ(x, ∅). Sampling uses the EMA parameters (`train.ema_decay`); the sampler, its steps,
η and the guidance scale γ are the `sample.*` settings (`gen-jax sample --sampler ddim
--steps 50 --guidance 3`). Classifier guidance (Dhariwal & Nichol 2021) of any ddpm run, with a
`noisy_classifier` run trained for its schedule: `gen-jax sample --classifier RUN
--classifier-scale s` (sample.classifier_workdir, sample.classifier_scale). Evaluation: the variational bound in bits/dim (`gen_jax.diffusion.vlb`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gen_jax import viz
from gen_jax.data import batched_apply
from gen_jax.diffusion import sampling
from gen_jax.diffusion.schedules import q_sample, schedule_from_config
from gen_jax.diffusion.vlb import vlb_terms
from gen_jax.families.noisy_classifier import load_guide
from gen_jax.latent.bounds import bits_per_dim
from gen_jax.nn.coders import ImageShape, check_images, check_labels
from gen_jax.nn.unet import UNet
from gen_jax.registry import Family, register
from gen_jax.train import TrainState, make_optimizer, make_update, sharding

SAMPLERS = ("ddpm", "ddim")


def check_config(config: ml_collections.ConfigDict) -> None:
  dc, sc = config.diffusion, config.sample
  if sc.sampler not in SAMPLERS:
    raise ValueError(f"sample.sampler must be one of {', '.join(SAMPLERS)}, got {sc.sampler!r}")
  if sc.sampler == "ddim" and not 1 <= sc.steps <= dc.num_steps:
    raise ValueError(f"sample.steps (DDIM) must be in [1, {dc.num_steps}], got {sc.steps}")
  if not 0.0 <= dc.label_dropout < 1.0:
    raise ValueError(f"diffusion.label_dropout must be in [0, 1), got {dc.label_dropout}")
  if config.data.scale != "symmetric":
    raise ValueError(f"diffusion models train on data.scale='symmetric' ([-1, 1]), got {config.data.scale!r}")


@register("ddpm")
def build(config: ml_collections.ConfigDict, *, axis_name: str | None = None) -> Family:
  check_config(config)
  net, dc, sc, ev = config.net, config.diffusion, config.sample, config.eval
  schedule = schedule_from_config(dc)
  unet = UNet(tuple(net.widths), net.bottom_width, net.time_dim, net.num_classes, net.norm, net.inject)
  conditional, null, batch_norm = net.num_classes > 0, net.num_classes, net.norm == "batch"
  tx, ema_decay, image = make_optimizer(config.optimizer), config.train.ema_decay, ImageShape()

  def apply(params, stats, x, t, labels, *, train=False):
    """(ε̂ [B, H, W, C], new batch stats)."""
    variables = {"params": params, **({"batch_stats": stats} if batch_norm else {})}
    if train and batch_norm:
      eps, new = unet.apply(variables, x, t, labels, train=True, mutable=["batch_stats"])
      return eps, new["batch_stats"]
    return unet.apply(variables, x, t, labels, train=False), stats

  def init(key, example):
    x = jnp.asarray(example["image"][:1])  # [1, H, W, C]
    check_images(x, model="ddpm", pixels=" in [-1, 1]")
    if conditional and isinstance(example.get("label"), np.ndarray):  # concrete (not under eval_shape)
      check_labels(example["label"], len(example["label"]), net.num_classes)
    image.record(x)
    variables = unet.init(key, x, jnp.ones((1,), jnp.int32), jnp.zeros((1,), jnp.int32) if conditional else None)
    params = variables["params"]
    return TrainState.create(params=params, opt_state=tx.init(params), batch_stats=variables.get("batch_stats", {}),
                             ema_params=jax.tree.map(jnp.copy, params) if ema_decay > 0 else None)

  def loss_fn(params, batch, *, key, batch_stats):
    """The simple loss: mean ||ε - ε_θ(√ᾱ_t x_0 + √(1-ᾱ_t) ε, t, y)||²."""
    x0 = batch["image"]  # [B, H, W, C] in [-1, 1]
    check_images(x0, image.shape, model="ddpm", pixels=" in [-1, 1]")
    k_t, k_eps, k_drop = jax.random.split(key, 3)
    t = jax.random.randint(k_t, (x0.shape[0],), 1, dc.num_steps + 1)  # [B]
    eps = jax.random.normal(k_eps, x0.shape, jnp.float32)
    labels, metrics = None, {}
    if conditional:
      dropped = jax.random.bernoulli(k_drop, dc.label_dropout, (x0.shape[0],))  # per sample
      labels = jnp.where(dropped, null, batch["label"])
      metrics["label_dropped"] = jnp.mean(dropped.astype(jnp.float32))
    pred, batch_stats = apply(params, batch_stats, q_sample(schedule, x0, t, eps), t, labels, train=True)
    loss = jnp.mean((pred - eps) ** 2)
    return loss, ({"mse": loss, **metrics}, batch_stats)

  def sampler_params(state):
    return state.ema_params if ema_decay > 0 else state.params

  guide = {}  # the noisy classifier of classifier guidance: loaded at the first sample

  def load():
    if sc.get("classifier_workdir") and not guide:
      guide["log_p"], guide["params"], guide["num_classes"] = load_guide(sc.classifier_workdir, dc, image.get())
      if conditional and guide["num_classes"] != net.num_classes:
        raise ValueError(f"the noisy classifier has {guide['num_classes']} classes, the diffusion model "
                         f"{net.num_classes}")
    return guide.get("params")

  def eps_fn_for(params, stats, labels, guidance):
    """ε̂(x_t, t): unconditional, conditional (γ = 1 in the config: one call), or classifier-free
    guided with scale γ (one call on the doubled batch)."""
    if not conditional or sc.guidance == 1.0:
      return lambda x, t: apply(params, stats, x, t, labels if conditional else None)[0]

    def both(x, t):
      y = jnp.concatenate([labels, jnp.full_like(labels, null)])
      eps = apply(params, stats, jnp.concatenate([x, x]), jnp.concatenate([t, t]), y)[0]
      return jnp.split(eps, 2)

    return sampling.classifier_free(both, guidance)

  def generate(params, stats, keys, labels, guidance, guide_params, *, shape):
    """x_0 [N, H, W, C] in [-1, 1] for per-sample keys [N] (vmap-able over keys and γ)."""
    eps_fn = eps_fn_for(params, stats, labels, guidance)
    if guide_params is not None:  # classifier guidance on top (of any of the above)
      log_p = lambda x, t: guide["log_p"](guide_params, x, t, labels)
      eps_fn = sampling.classifier_guided(eps_fn, log_p, schedule, sc.classifier_scale)
    if sc.sampler == "ddim":
      return sampling.ddim(eps_fn, schedule, keys, shape, steps=sc.steps, eta=sc.eta, clip=sc.clip_denoised)
    return sampling.ancestral(eps_fn, schedule, keys, shape, variance=sc.variance, clip=sc.clip_denoised)

  @functools.partial(jax.jit, static_argnames="shape")
  def draw_chunk(params, stats, key, index, labels, guidance, guide_params, *, shape):
    keys = jax.vmap(jax.random.fold_in, (None, 0))(key, index)  # sample i: fold_in(key, i)
    return generate(params, stats, keys, labels, guidance, guide_params, shape=shape)

  def sample(state, key, num, labels=None):
    """uint8 images [N, H, W, C]; sample i depends on (key, i, label i, γ) only. The samples of a
    chunk are split over the devices the state is replicated on (its mesh's `data` axis)."""
    num, guide_params = int(num), load()
    if conditional or guide_params is not None:
      classes = net.num_classes if conditional else guide["num_classes"]
      labels = np.arange(num) % classes if labels is None else labels
      labels = check_labels(labels, num, classes)
    arrays = {"index": np.arange(num, dtype=np.int32), "label": np.zeros(num, np.int32) if labels is None else labels}
    params, guidance, chunk = sampler_params(state), jnp.float32(sc.guidance), min(num, sc.batch_size)
    mesh = getattr(jax.tree.leaves(params)[0].sharding, "mesh", None)
    place = (lambda c: sharding.shard_batch(c, mesh)) if mesh is not None and chunk % mesh.size == 0 else (lambda c: c)

    def draw(c):
      c = place(c)
      return draw_chunk(params, state.batch_stats, key, c["index"], c["label"], guidance, guide_params,
                        shape=image.get())

    return viz.to_uint8((np.asarray(batched_apply(draw, arrays, chunk)) + 1.0) / 2.0)

  @jax.jit
  def vlb_chunk(params, stats, x0, labels, index, key):
    keys = jax.vmap(jax.random.fold_in, (None, 0))(key, index)
    eps_fn = lambda x, t: apply(params, stats, x, t, labels if conditional else None)[0]
    return vlb_terms(eps_fn, schedule, x0, keys, num_t=ev.vlb_timesteps, variance=sc.variance)

  def evaluate(state, split, key):
    """The variational bound on the first eval.num_examples test images (labels given to a
    conditional model), in nats and bits/dim, with its three parts."""
    x, labels = np.asarray(split["image"]), np.asarray(split["label"], np.int32)
    check_images(x, image.get(), model="ddpm", pixels=" in [-1, 1]")
    n = min(len(x), ev.num_examples) if ev.num_examples > 0 else len(x)
    arrays = {"image": x[:n], "label": labels[:n], "index": np.arange(n, dtype=np.int32)}
    params = sampler_params(state)
    out = batched_apply(lambda c: vlb_chunk(params, state.batch_stats, c["image"], c["label"], c["index"], key),
                        arrays, min(n, ev.batch_size))
    parts = {k: float(np.mean(np.asarray(v, np.float64))) for k, v in out.items()}
    dims = int(np.prod(x.shape[1:]))
    return {"test_vlb_nats": parts["total"], "test_bits_per_dim": bits_per_dim(parts["total"], dims),
            "test_vlb_prior": parts["prior"], "test_vlb_diffusion": parts["diffusion"],
            "test_vlb_decoder": parts["decoder"], "num_examples": n}

  return Family(name="ddpm", init=init, evaluate=evaluate, sample=sample,
                conditional=conditional or bool(sc.get("classifier_workdir")),
                update=make_update(loss_fn, tx, axis_name=axis_name, ema_decay=ema_decay))
