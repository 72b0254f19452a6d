"""Autoregressive families of binary images (nade, made, pixelcnn, gated_pixelcnn, pixelrnn) on the engine.

Training maximises the exact log-likelihood log p(x) = Σ_d log p(x_d | x_<d) of dynamically
binarized images (every pixel ~ Bernoulli(grey level), drawn afresh at each step from the step
key), as the VAE does. Evaluation reports the exact test NLL in nats and bits/dim on the fixed
binarization of the test set (`gen_jax.data.fixed_binarized`, numpy `default_rng(0)`): the same
bits that score the VAE's IWAE bound. Sampling runs all D pixels inside one jit; sample i draws
its D uniforms from `fold_in(key, i)`, so it does not depend on how many are drawn; the gated
PixelCNN samples with its row cache unless `sample.sampler = "full"`. A conditional model
(`net.num_classes > 0`) is trained and scored on p(x | y) with the data's labels.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gen_jax import viz
from gen_jax.autoregressive import made, nade, pixelcnn, pixelrnn
from gen_jax.data import batched_apply, binarize, fixed_binarized
from gen_jax.nn.coders import ImageShape, check_images, check_labels
from gen_jax.registry import Family, register
from gen_jax.train import TrainState, make_optimizer, make_update

# model name -> make(config, (H, W, C)) -> BinaryAutoregressive
MODELS = {"nade": nade.make, "made": made.make,
          "pixelcnn": functools.partial(pixelcnn.make, gated=False),
          "gated_pixelcnn": functools.partial(pixelcnn.make, gated=True), "pixelrnn": pixelrnn.make}


def uniforms(key: jax.Array, num: int, num_inputs: int) -> jax.Array:
  """u [N, D]: row i drawn from fold_in(key, i), whatever N is."""
  keys = jax.vmap(jax.random.fold_in, (None, 0))(key, jnp.arange(num))
  return jax.vmap(lambda k: jax.random.uniform(k, (num_inputs,), jnp.float32))(keys)


@register("nade")
@register("made")
@register("pixelcnn")
@register("gated_pixelcnn")
@register("pixelrnn")
def build(config: ml_collections.ConfigDict, *, axis_name: str | None = None) -> Family:
  make_model, ev = MODELS[config.model], config.eval
  if config.data.binarize not in ("dynamic", "none"):
    raise ValueError(f"data.binarize must be 'dynamic' or 'none', got {config.data.binarize!r}")
  checked = make_model(config, (1, 1, 1))  # checks the net/eval settings before anything is traced
  num_classes = int(config.net.get("num_classes", 0))
  sampler = config.get("sample", {}).get("sampler", "full")
  if sampler not in ("full", "cached") or (sampler == "cached" and checked.sample_cached is None):
    valid = "'full' or 'cached'" if checked.sample_cached else "'full' (no cached sampler for this model)"
    raise ValueError(f"sample.sampler must be {valid}, got {sampler!r}")
  tx = make_optimizer(config.optimizer)
  image_shape = ImageShape()  # learnt from the example batch when init is traced
  model_for = functools.cache(lambda shape: make_model(config, shape))
  given = lambda labels: {"labels": labels} if num_classes else {}  # what a conditional model also takes

  def flat(x):  # [B, H, W, C] -> [B, D]
    check_images(x, model=config.model, pixels=" in [0, 1]")
    return x.reshape(x.shape[0], -1)

  def init(key, example):
    images = example["image"]
    if config.data.binarize == "none" and isinstance(images, np.ndarray) and not np.isin(images, (0, 1)).all():
      raise ValueError(f"{config.model} models binary pixels: with data.binarize=none the images must be 0 or 1, "
                       f"got values in [{images.min()}, {images.max()}] (data.binarize=dynamic draws the bits)")
    x = flat(jnp.asarray(images[:1]))
    shape = image_shape.record(example["image"][:1])
    params = model_for(shape).init(key, x, **given(jnp.asarray(example["label"][:1]) if num_classes else None))
    return TrainState.create(params=params, opt_state=tx.init(params))

  def loss_fn(params, batch, *, key, batch_stats):
    x = batch["image"]  # [B, H, W, C] in [0, 1]
    if config.data.binarize == "dynamic":
      x = binarize(x, key=jax.random.fold_in(key, 0))
    model, x = model_for(tuple(x.shape[1:])), flat(x)
    log_p = model.train_log_prob(params, x, key=jax.random.fold_in(key, 1), **given(batch.get("label")))
    nll = -jnp.mean(log_p)
    return nll, ({"nll": nll, "bits_per_dim": nll / (x.shape[1] * math.log(2))}, batch_stats)

  @jax.jit
  def test_nll(params, x, labels):  # [B, D] -> [B]
    return -model_for(image_shape.get()).test_log_prob(params, x, **given(labels))

  def evaluate(state, split, key):
    del key  # the likelihood is exact
    x = image_shape.test_images(split["image"], ev.get("num_examples", -1))
    bits = fixed_binarized(x, seed=ev.binarization_seed).reshape(len(x), -1)
    arrays = {"x": bits, "y": np.asarray(split["label"][:len(x)], np.int32)}
    nll = batched_apply(lambda c: test_nll(state.params, c["x"], c["y"]), arrays, ev.batch_size)
    nll = np.asarray(nll, np.float64)
    return {"test_nll": float(nll.mean()), "test_bits_per_dim": float(nll.mean() / (bits.shape[1] * math.log(2))),
            "num_examples": len(x)}

  @functools.partial(jax.jit, static_argnums=(2, 3))  # compiled once per (num, shape)
  def draw(params, key, num, shape, labels):
    model = model_for(shape)
    draw_all = model.sample_cached if sampler == "cached" else model.sample
    return draw_all(params, uniforms(key, num, math.prod(shape)), **given(labels))

  def sample(state, key, num, labels=None):
    shape, num = image_shape.get(), int(num)
    if num_classes:  # default labels: 0, 1, ..., 9, 0, 1, ...
      labels = check_labels(np.arange(num) % num_classes if labels is None else labels, num, num_classes)
    x = draw(state.params, key, num, shape, labels)
    return viz.to_uint8(np.asarray(x).reshape(num, *shape))

  return Family(name=config.model, init=init, update=make_update(loss_fn, tx, axis_name=axis_name),
                evaluate=evaluate, sample=sample, conditional=bool(num_classes))
