"""The train state: one pytree that is checkpointed, donated and replicated whole."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class TrainState:
  # Number of updates applied so far (int32 scalar); also the data position: the next batch
  # read is `batches.batch(step)`, and the next per-step key is `fold_in(train_key, step)`.
  step: jax.Array
  # Model parameters. A family with several networks (a GAN) keeps a dict of them here,
  # e.g. {"generator": ..., "discriminator": ...}.
  params: Any
  # Optimizer state, shaped like the family's optimizer(s): a dict of states for a GAN,
  # an empty dict for EM, which has no optimizer.
  opt_state: Any
  # Non-trained model variables (BatchNorm running statistics); {} when the model has none.
  batch_stats: Any = flax.struct.field(default_factory=dict)
  # Exponential moving average of `params` for sampling/evaluation; None when not tracked.
  ema_params: Any = None

  @classmethod
  def create(cls, *, params, opt_state, batch_stats=None, ema_params=None) -> "TrainState":
    return cls(step=jnp.zeros((), jnp.int32), params=params, opt_state=opt_state,
               batch_stats={} if batch_stats is None else batch_stats, ema_params=ema_params)
