"""MNIST classifiers: the Keras book's 784-512-10 MLP and a small CNN (the judge network).

Loss: mean softmax cross-entropy  L(θ) = -1/B Σ_b log softmax(f_θ(x_b))[y_b].
The CNN's penultimate layer gives the features of the classifier FID (`gen_jax.metrics`).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from gen_jax import nn as layers
from gen_jax.data import batched_apply
from gen_jax.registry import Family, register
from gen_jax.train import TrainState, make_optimizer, make_update


def make_model(net: ml_collections.ConfigDict) -> nn.Module:
  if net.arch == "mlp":
    return layers.MLP(hidden=tuple(net.hidden), out=net.num_classes, dropout=net.dropout)
  if net.arch == "cnn":
    return layers.ConvNet(widths=tuple(net.widths), dense=net.dense, out=net.num_classes,
                          dropout=net.dropout, double_conv=net.double_conv)
  raise ValueError(f"unknown classifier arch {net.arch!r}; valid: 'mlp', 'cnn'")


def logits_and_features(model: nn.Module, params, images: jax.Array):
  """(logits [B, classes], penultimate features [B, F]) in inference mode."""
  logits, variables = model.apply({"params": params}, images, mutable=["intermediates"])
  return logits, variables["intermediates"]["features"][0]


@register("classifier")
def build(config: ml_collections.ConfigDict, *, axis_name: str | None = None) -> Family:
  model, tx = make_model(config.net), make_optimizer(config.optimizer)

  def init(key, example):
    params = model.init({"params": key}, jnp.asarray(example["image"][:1]))["params"]
    return TrainState.create(params=params, opt_state=tx.init(params))

  def loss_fn(params, batch, *, key, batch_stats):
    logits = model.apply({"params": params}, batch["image"], train=True, rngs={"dropout": key})
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
    accuracy = jnp.mean(jnp.argmax(logits, -1) == batch["label"])
    return loss, ({"accuracy": accuracy}, batch_stats)

  @jax.jit
  def eval_chunk(params, chunk):
    logits = model.apply({"params": params}, chunk["image"])
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, chunk["label"])
    return {"loss": losses, "correct": jnp.argmax(logits, -1) == chunk["label"]}

  def evaluate(state, split, key):
    del key  # evaluation is deterministic
    out = batched_apply(lambda c: eval_chunk(state.params, c), split, config.eval.batch_size)
    return {"test_loss": float(np.mean(out["loss"])), "test_accuracy": float(np.mean(out["correct"]))}

  return Family(name="classifier", init=init, update=make_update(loss_fn, tx, axis_name=axis_name),
                evaluate=evaluate)
