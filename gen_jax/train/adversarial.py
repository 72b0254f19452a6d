"""Two players, two optimizers, one jitted step: the update every adversarial family shares.

A two-player game (Goodfellow et al. 2014, "Generative Adversarial Nets"; the adversarial
autoencoder of Makhzani et al. 2016 plays the same game on latent codes) has a discriminator
with parameters φ and a generator player with parameters θ (for the AAE: encoder + decoder).
One step t, with per-step key k_t = fold_in(train_key, t) (`step.step_key`), is

  1. discriminator:  φ' = φ + opt_D(∇_φ L_D(φ, θ; x_t, fold_in(k_t, 0)))
  2. generator:      θ' = θ + opt_G(∇_θ L_G(θ, φ'; x_t, fold_in(k_t, 1)))

i.e. alternating (Gauss-Seidel) updates: the generator phase sees the *updated*
discriminator φ'. Each player is changed only by its own optimizer, whose state is kept
apart: `state.params = {"discriminator": φ, "generator": θ}` and `state.opt_state` the
matching dict of optax states. Under `axis_name` (pmap) both gradients, the losses and the
metrics are averaged over the named axis, as in `step.make_update`.

A loss function is `loss_fn(own_params, other_params, batch, *, key) -> (loss, metrics)`;
gradients are taken with respect to `own_params` only.
"""

from __future__ import annotations

from typing import Callable

import jax
import optax

from gen_jax.train.state import TrainState
from gen_jax.train.step import step_key

DISCRIMINATOR, GENERATOR = "discriminator", "generator"

# loss_fn(own_params, other_params, batch, *, key) -> (loss, metrics)
PlayerLoss = Callable[..., tuple[jax.Array, dict]]


def players(discriminator, generator) -> dict:
  """The params (or optimizer states) dict of a two-player state."""
  return {DISCRIMINATOR: discriminator, GENERATOR: generator}


def init_state(d_params, g_params, tx_d: optax.GradientTransformation,
               tx_g: optax.GradientTransformation) -> TrainState:
  """A fresh two-player TrainState: both params and both optimizer states."""
  return TrainState.create(params=players(d_params, g_params),
                           opt_state=players(tx_d.init(d_params), tx_g.init(g_params)))


def _player_step(loss_fn, tx, own, other, opt_state, batch, key, axis_name):
  """One optimizer step of one player: (new params, new opt state, loss, metrics)."""
  (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(own, other, batch, key=key)
  if axis_name is not None:
    grads, loss, metrics = jax.lax.pmean((grads, loss, metrics), axis_name)
  updates, opt_state = tx.update(grads, opt_state, own)
  return optax.apply_updates(own, updates), opt_state, loss, metrics


def make_two_player_update(d_loss_fn: PlayerLoss, g_loss_fn: PlayerLoss,
                           tx_d: optax.GradientTransformation, tx_g: optax.GradientTransformation,
                           *, axis_name: str | None = None):
  """`update(state, batch, key) -> (state, metrics)`: discriminator step, then generator step.

  metrics = {"d_loss", "g_loss", "loss" (= g_loss), **d_metrics, **g_metrics}.
  """

  def update(state: TrainState, batch, key):
    key = step_key(key, state.step, axis_name)
    d, g = state.params[DISCRIMINATOR], state.params[GENERATOR]
    d, d_opt, d_loss, d_metrics = _player_step(d_loss_fn, tx_d, d, g, state.opt_state[DISCRIMINATOR],
                                               batch, jax.random.fold_in(key, 0), axis_name)
    g, g_opt, g_loss, g_metrics = _player_step(g_loss_fn, tx_g, g, d, state.opt_state[GENERATOR],
                                               batch, jax.random.fold_in(key, 1), axis_name)
    metrics = {"loss": g_loss, "d_loss": d_loss, "g_loss": g_loss, **d_metrics, **g_metrics}
    new_state = state.replace(step=state.step + 1, params=players(d, g), opt_state=players(d_opt, g_opt))
    return new_state, metrics

  return update
