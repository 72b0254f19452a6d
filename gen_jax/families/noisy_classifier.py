"""A classifier of noisy images p_φ(y | x_t, t) ("noisy_classifier"): the guide of classifier guidance.

Training (Dhariwal & Nichol 2021, sec. 4): t ~ U{1..T} and ε ~ N(0, I) per example, x_t =
q_sample(x_0, t, ε) with the diffusion model's schedule, loss = mean cross-entropy of
f_φ(x_t, t) against y. The `diffusion.*` settings must be those of the diffusion run it guides
(`gen-jax sample --workdir DDPM_RUN --classifier THIS_RUN --classifier-scale s` checks them).
Evaluation: test accuracy at t = 1, T/4, T/2, 3T/4, T (a fixed noise draw per image).
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from gen_jax.data import batched_apply
from gen_jax.diffusion.schedules import SCHEDULE_KEYS, q_sample, schedule_from_config
from gen_jax.nn.coders import check_images, check_labels
from gen_jax.nn.unet import NoisyClassifier
from gen_jax.registry import Family, register
from gen_jax.train import TrainState, make_optimizer, make_update

def make_model(config: ml_collections.ConfigDict) -> NoisyClassifier:
  net = config.net
  return NoisyClassifier(net.num_classes, tuple(net.widths), net.bottom_width, net.time_dim)


@register("noisy_classifier")
def build(config: ml_collections.ConfigDict, *, axis_name: str | None = None) -> Family:
  model, tx, schedule = make_model(config), make_optimizer(config.optimizer), schedule_from_config(config.diffusion)
  T, classes = config.diffusion.num_steps, config.net.num_classes

  def init(key, example):
    x = jnp.asarray(example["image"][:1])  # [1, H, W, C]
    check_images(x, model="noisy_classifier", pixels=" in [-1, 1]")
    if isinstance(example.get("label"), np.ndarray):
      check_labels(example["label"], len(example["label"]), classes)
    params = model.init(key, x, jnp.ones((1,), jnp.int32))["params"]
    return TrainState.create(params=params, opt_state=tx.init(params))

  def loss_fn(params, batch, *, key, batch_stats):
    """Mean cross-entropy of f_φ(x_t, t) against y, t ~ U{1..T}."""
    x0, y = batch["image"], batch["label"]  # [B, H, W, C], [B]
    k_t, k_eps = jax.random.split(key)
    t = jax.random.randint(k_t, (x0.shape[0],), 1, T + 1)  # [B]
    logits = model.apply({"params": params}, q_sample(schedule, x0, t, jax.random.normal(k_eps, x0.shape)), t)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    return loss, ({"accuracy": jnp.mean(jnp.argmax(logits, -1) == y)}, batch_stats)

  eval_ts = np.unique(np.maximum(1, np.round(np.linspace(0, T, 5)).astype(np.int32)))  # 1, T/4, ..., T

  @jax.jit
  def correct_at(params, x0, y, index, key):
    """[len(eval_ts), B]: whether x_t of each image is classified as its label, per t."""
    keys = jax.vmap(jax.random.fold_in, (None, 0))(key, index)
    eps = jax.vmap(lambda k: jax.random.normal(k, x0.shape[1:]))(keys)
    def at(t):
      tt = jnp.full((x0.shape[0],), t, jnp.int32)
      return jnp.argmax(model.apply({"params": params}, q_sample(schedule, x0, tt, eps), tt), -1) == y
    return jnp.stack([at(t) for t in eval_ts])

  def evaluate(state, split, key):
    x = np.asarray(split["image"])
    check_images(x, x.shape[1:], model="noisy_classifier", pixels=" in [-1, 1]")
    arrays = {"image": x, "label": np.asarray(split["label"], np.int32), "index": np.arange(len(x), dtype=np.int32)}
    out = batched_apply(lambda c: {"c": correct_at(state.params, c["image"], c["label"], c["index"], key).T},
                        arrays, min(len(x), config.eval.batch_size))["c"]  # [N, len(eval_ts)]
    return {f"test_accuracy_t{int(t)}": float(np.mean(out[:, i])) for i, t in enumerate(eval_ts)}

  return Family(name="noisy_classifier", init=init, update=make_update(loss_fn, tx, axis_name=axis_name),
                evaluate=evaluate)


def load_guide(workdir: str | Path, diffusion: ml_collections.ConfigDict, image_shape):
  """(log_p, params, num_classes) of a trained noisy-classifier run: `log_p(params, x_t, t, y)
  -> [N]` = log p_φ(y | x_t, t), pure (params are an argument, so one compilation serves any
  run). Checks that it was trained for this diffusion schedule and image shape (refused otherwise)."""
  from gen_jax.train.loop import restore_run

  config, _, state = restore_run(workdir)
  if config.model != "noisy_classifier":
    raise ValueError(f"--classifier {workdir} holds a {config.model!r} run; classifier guidance needs a "
                     f"noisy_classifier run (gen-jax train noisy_classifier ...)")
  theirs = {k: config.diffusion[k] for k in SCHEDULE_KEYS}
  ours = {k: diffusion[k] for k in SCHEDULE_KEYS}
  if theirs != ours:
    raise ValueError(f"the noisy classifier in {workdir} was trained for the diffusion {theirs}, "
                     f"but this model uses {ours}: train one with the same diffusion.* settings")
  model, params = make_model(config), state.params
  channels = params["ConvBlock_0"]["Conv_0"]["kernel"].shape[2]  # [3, 3, C, width]
  if channels != image_shape[-1]:
    raise ValueError(f"the noisy classifier in {workdir} reads {channels}-channel images, but this model "
                     f"makes images of shape {tuple(image_shape)}")

  def log_p(params, x, t, y):  # [N, H, W, C], [N], [N] -> [N]
    return jnp.take_along_axis(jax.nn.log_softmax(model.apply({"params": params}, x, t)), y[:, None], -1)[:, 0]

  return log_p, params, config.net.num_classes
