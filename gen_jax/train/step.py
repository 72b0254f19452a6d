"""Pure gradient steps: `make_update(loss_fn, tx)` -> `update(state, batch, key)`.

The per-step key is `fold_in(key, state.step)`, computed inside jit, so the randomness of a
step depends only on (train key, step): a resumed run draws the numbers an uninterrupted one
would. With `axis_name` the update is pmap-ready: gradients, metrics and batch statistics
are averaged over that named axis, and the key also folds in the device index.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from gen_jax.train.state import TrainState

# loss_fn(params, batch, *, key, batch_stats) -> (loss, (metrics, new_batch_stats))
LossFn = Callable[..., tuple[jax.Array, tuple[dict, dict]]]


def step_key(key: jax.Array, step: jax.Array, axis_name: str | None = None) -> jax.Array:
  """The key of one step (and, under pmap, of one device)."""
  key = jax.random.fold_in(key, step)
  if axis_name is not None:
    key = jax.random.fold_in(key, jax.lax.axis_index(axis_name))
  return key


def ema_update(ema, params, decay: float, step=None):
  """θ_ema <- β θ_ema + (1 - β) θ: the moving average that samples (every family's one EMA).
  With `step` (the number of updates before this one) β warms up as min(β, (1 + step)/(10 + step))
  (TensorFlow's ExponentialMovingAverage with num_updates): without it, after n steps the
  average still holds β^n of the initialisation (13.5% after 2,000 steps at β = 0.999)."""
  if step is not None:
    t = jnp.asarray(step, jnp.float32)
    decay = jnp.minimum(jnp.float32(decay), (1.0 + t) / (10.0 + t))
  return jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, ema, params)


def make_update(loss_fn: LossFn, tx: optax.GradientTransformation, *, axis_name: str | None = None,
                ema_decay: float = 0.0):
  """One optimizer step on `loss_fn`, as a pure function `update(state, batch, key)`; with
  `ema_decay` = β > 0 also `state.ema_params` <- `ema_update(ema_params, params, β, step)` (warmed up)."""

  def update(state: TrainState, batch, key):
    key = step_key(key, state.step, axis_name)
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    (loss, (metrics, batch_stats)), grads = grad_fn(state.params, batch, key=key,
                                                    batch_stats=state.batch_stats)
    metrics = {"loss": loss, **metrics}
    if axis_name is not None:
      grads, metrics, batch_stats = jax.lax.pmean((grads, metrics, batch_stats), axis_name)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    ema = ema_update(state.ema_params, params, ema_decay, state.step) if ema_decay > 0 else state.ema_params
    new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                              batch_stats=batch_stats, ema_params=ema)
    return new_state, metrics

  return update


_OPTIMIZERS = {
    "sgd": lambda c: optax.sgd(learning_rate(c), momentum=c.get("momentum") or None),
    "adam": lambda c: optax.adam(learning_rate(c), b1=c.get("b1", 0.9), b2=c.get("b2", 0.999), eps=c.get("eps", 1e-8)),
    "adamw": lambda c: optax.adamw(learning_rate(c), weight_decay=c.get("weight_decay", 1e-4)),
    # Keras' RMSprop: rho=0.9, eps=1e-7 added outside the square root.
    "rmsprop": lambda c: optax.rmsprop(learning_rate(c), decay=c.get("decay", 0.9), eps=c.get("eps", 1e-7),
                                       eps_in_sqrt=False),
}


def learning_rate(c: ml_collections.ConfigDict):
  """`c.learning_rate`, or with `c.stage_steps` = (n_0, n_1, ...) a staged schedule:
  learning_rate · stage_decay^i during the n_i steps of stage i (Burda et al. 2016 train with
  n_i = 3^i epochs and decay 10^(-1/7)); the last rate holds after the last stage."""
  stages = tuple(c.get("stage_steps", ()) or ())
  if not stages:
    return c.learning_rate
  if any(n <= 0 for n in stages):
    raise ValueError(f"optimizer.stage_steps must be positive step counts, got {stages}")
  boundaries = np.cumsum(stages)[:-1]
  return optax.piecewise_constant_schedule(
      c.learning_rate, {int(b): float(c.stage_decay) for b in boundaries})


def promotion_tolerant(tx: optax.GradientTransformation) -> optax.GradientTransformation:
  """`tx` with its update traced under standard dtype promotion: optax's Adam computes
  `b1 ** count` (a Python float to an int32 power), which strict promotion (the tests' mode)
  refuses. The numbers are unchanged; our own code stays strict."""

  def update(updates, state, params=None):
    with jax.numpy_dtype_promotion("standard"):
      return tx.update(updates, state, params)

  return optax.GradientTransformation(tx.init, update)


def make_optimizer(cfg: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """An optax optimizer from a `config.optimizer` block (`cfg.name` picks it)."""
  if cfg.name not in _OPTIMIZERS:
    raise ValueError(f"unknown optimizer {cfg.name!r}; valid: {', '.join(sorted(_OPTIMIZERS))}")
  return promotion_tolerant(_OPTIMIZERS[cfg.name](cfg))
