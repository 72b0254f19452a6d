"""Pure gradient steps: `make_update(loss_fn, tx)` -> `update(state, batch, key)`.

The per-step key is `fold_in(key, state.step)`, computed inside jit, so the randomness of a
step depends only on (train key, step): a resumed run draws the numbers an uninterrupted one
would. With `axis_name` the update is pmap-ready: gradients, metrics and batch statistics
are averaged over that named axis, and the key also folds in the device index.
"""

from __future__ import annotations

from typing import Callable

import jax
import ml_collections
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


def make_update(loss_fn: LossFn, tx: optax.GradientTransformation, *, axis_name: str | None = None):
  """One optimizer step on `loss_fn`, as a pure function `update(state, batch, key)`."""

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
    new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                              batch_stats=batch_stats)
    return new_state, metrics

  return update


_OPTIMIZERS = {
    "sgd": lambda c: optax.sgd(c.learning_rate, momentum=c.get("momentum") or None),
    "adam": lambda c: optax.adam(c.learning_rate, b1=c.get("b1", 0.9), b2=c.get("b2", 0.999)),
    "adamw": lambda c: optax.adamw(c.learning_rate, weight_decay=c.get("weight_decay", 1e-4)),
    # Keras' RMSprop: rho=0.9, eps=1e-7 added outside the square root.
    "rmsprop": lambda c: optax.rmsprop(c.learning_rate, decay=c.get("decay", 0.9), eps=c.get("eps", 1e-7),
                                       eps_in_sqrt=False),
}


def make_optimizer(cfg: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """An optax optimizer from a `config.optimizer` block (`cfg.name` picks it)."""
  if cfg.name not in _OPTIMIZERS:
    raise ValueError(f"unknown optimizer {cfg.name!r}; valid: {', '.join(sorted(_OPTIMIZERS))}")
  return _OPTIMIZERS[cfg.name](cfg)
