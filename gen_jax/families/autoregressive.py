"""Autoregressive families of binary images ("nade", "made") on the engine.

Training maximises the exact log-likelihood log p(x) = Σ_d log p(x_d | x_<d) of dynamically
binarized images (every pixel ~ Bernoulli(grey level), drawn afresh at each step from the step
key), as the VAE does. Evaluation reports the exact test NLL in nats and bits/dim on the fixed
binarization of the test set (`gen_jax.data.fixed_binarized`, numpy `default_rng(0)`): the same
bits that score the VAE's IWAE bound. Sampling runs all D pixels inside one jit; sample i draws
its D uniforms from `fold_in(key, i)`, so it does not depend on how many are drawn.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gen_jax import viz
from gen_jax.autoregressive import made, nade
from gen_jax.data import batched_apply, binarize, fixed_binarized
from gen_jax.nn.coders import ImageShape, check_images
from gen_jax.registry import Family, register
from gen_jax.train import TrainState, make_optimizer, make_update

# model name -> make(config, num_inputs) -> BinaryAutoregressive
MODELS = {"nade": nade.make, "made": made.make}


@register("nade")
@register("made")
def build(config: ml_collections.ConfigDict, *, axis_name: str | None = None) -> Family:
  make_model, ev = MODELS[config.model], config.eval
  if config.data.binarize not in ("dynamic", "none"):
    raise ValueError(f"data.binarize must be 'dynamic' or 'none', got {config.data.binarize!r}")
  make_model(config, 1)  # checks the net/eval settings before anything is traced
  tx = make_optimizer(config.optimizer)
  image_shape = ImageShape()  # learnt from the example batch when init is traced
  model_for = functools.cache(lambda num_inputs: make_model(config, num_inputs))

  def flat(x):  # [B, H, W, C] -> [B, D]
    check_images(x, model=config.model, pixels=" in [0, 1]")
    return x.reshape(x.shape[0], -1)

  def init(key, example):
    x = flat(jnp.asarray(example["image"][:1]))
    image_shape.record(example["image"][:1])
    params = model_for(x.shape[1]).init(key, x)
    return TrainState.create(params=params, opt_state=tx.init(params))

  def loss_fn(params, batch, *, key, batch_stats):
    x = batch["image"]  # [B, H, W, C] in [0, 1]
    if config.data.binarize == "dynamic":
      x = binarize(x, key=jax.random.fold_in(key, 0))
    x = flat(x)
    nll = -jnp.mean(model_for(x.shape[1]).train_log_prob(params, x, key=jax.random.fold_in(key, 1)))
    return nll, ({"nll": nll, "bits_per_dim": nll / (x.shape[1] * math.log(2))}, batch_stats)

  @jax.jit
  def test_nll(params, x):  # [B, D] -> [B]
    return -model_for(x.shape[1]).test_log_prob(params, x)

  def evaluate(state, split, key):
    del key  # the likelihood is exact
    x = image_shape.test_images(split["image"], ev.get("num_examples", -1))
    bits = fixed_binarized(x, seed=ev.binarization_seed).reshape(len(x), -1)
    nll = np.asarray(batched_apply(lambda c: test_nll(state.params, c["x"]), {"x": bits}, ev.batch_size), np.float64)
    return {"test_nll": float(nll.mean()), "test_bits_per_dim": float(nll.mean() / (bits.shape[1] * math.log(2))),
            "num_examples": len(x)}

  @functools.partial(jax.jit, static_argnums=(2, 3))  # compiled once per (num, D)
  def draw(params, key, num, num_inputs):
    keys = jax.vmap(jax.random.fold_in, (None, 0))(key, jnp.arange(num))
    u = jax.vmap(lambda k: jax.random.uniform(k, (num_inputs,), jnp.float32))(keys)  # [N, D], row i: key i
    return model_for(num_inputs).sample(params, u)

  def sample(state, key, num, labels=None):
    del labels
    shape = image_shape.get()
    x = draw(state.params, key, int(num), int(np.prod(shape)))
    return viz.to_uint8(np.asarray(x).reshape(int(num), *shape))

  return Family(name=config.model, init=init, update=make_update(loss_fn, tx, axis_name=axis_name),
                evaluate=evaluate, sample=sample)
