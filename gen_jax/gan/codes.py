"""What the generator is fed: noise z, and the label or codes a conditional GAN or InfoGAN adds.

Sample i of a draw uses its own key fold_in(key, i), so it is the same whatever the number
of samples drawn with it (or the batch it falls in).
  z ~ N(0, I_D)                                   every GAN
  y ~ U{0..K-1}, or given                         conditional GAN (label embedded by both players)
  c = (c_cat ~ U{0..K-1} or given, c_1..c_J ~ U(-1, 1))   InfoGAN (Chen et al. 2016): the
      generator sees [z, one_hot(c_cat), c_1..c_J]; the discriminator's Q head predicts c.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp


class Inputs(NamedTuple):
  z: jax.Array                  # [B, D] noise
  labels: jax.Array | None      # [B] int32: the class (cGAN) or the categorical code (InfoGAN)
  continuous: jax.Array | None  # [B, J] InfoGAN's continuous codes in (-1, 1)


@dataclasses.dataclass(frozen=True)
class CodeSpec:
  noise_dim: int          # D
  num_classes: int = 0    # > 0: conditional GAN with this many classes
  categorical: int = 0    # > 0: InfoGAN categorical code with this many values
  continuous: int = 0     # InfoGAN continuous codes

  def __post_init__(self):
    if self.noise_dim < 1 or min(self.num_classes, self.categorical, self.continuous) < 0:
      raise ValueError(f"need net.noise_dim >= 1 and non-negative code sizes, got {self}")
    if self.num_classes and (self.categorical or self.continuous):
      raise ValueError("a GAN is either conditional (net.num_classes) or an InfoGAN (net.categorical_code, "
                       "net.continuous_codes), not both")

  @property
  def label_values(self) -> int:
    """How many values `labels` takes (0: the GAN has none)."""
    return self.num_classes or self.categorical

  @property
  def q_outputs(self) -> int:
    """Width of the InfoGAN Q head: K logits + J means (0: no head)."""
    return self.categorical + self.continuous

  def _one(self, key, label):
    k_z, k_y, k_c = jax.random.split(key, 3)
    z = jax.random.normal(k_z, (self.noise_dim,), jnp.float32)
    if self.label_values and label is None:
      label = jax.random.randint(k_y, (), 0, self.label_values)
    c = jax.random.uniform(k_c, (self.continuous,), jnp.float32, -1.0, 1.0) if self.continuous else None
    return z, label, c

  def draw(self, key: jax.Array, num: int, labels: jax.Array | None = None) -> Inputs:
    """`num` generator inputs; `labels` [num] fixes the class or categorical code."""
    return self.draw_at(key, jnp.arange(num), labels)

  def draw_at(self, key: jax.Array, ids: jax.Array, labels: jax.Array | None = None) -> Inputs:
    """The inputs of samples number `ids` [N] (sample i from fold_in(key, i))."""
    if labels is not None and not self.label_values:
      raise ValueError("this GAN takes no labels (it is neither conditional nor an InfoGAN)")
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(ids)
    if labels is None:
      z, y, c = jax.vmap(lambda k: self._one(k, None))(keys)
    else:
      z, y, c = jax.vmap(self._one)(keys, jnp.asarray(labels, jnp.int32))
    return Inputs(z, y, c)

  def generator_input(self, inputs: Inputs) -> jax.Array:
    """z, with InfoGAN's codes appended: [B, D (+ K + J)]. (A cGAN's label is embedded by G.)"""
    parts = [inputs.z]
    if self.categorical:
      parts.append(jax.nn.one_hot(inputs.labels, self.categorical, dtype=inputs.z.dtype))
    if self.continuous:
      parts.append(inputs.continuous)
    return jnp.concatenate(parts, axis=-1)

  def generator_labels(self, inputs: Inputs) -> jax.Array | None:
    """The labels G embeds: the cGAN's class (None for other GANs)."""
    return inputs.labels if self.num_classes else None
