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

A loss function is `loss_fn(own_params, other_params, batch, *, key, batch_stats) ->
(loss, (metrics, new_batch_stats))`, gradients taken with respect to `own_params` only.
`batch_stats` is the state's whole dict of BatchNorm statistics (`{}` when no network has
any; a DCGAN generator keeps `{"generator": ...}`): the discriminator phase hands its result
to the generator phase, whose result is stored.

With `d_steps = n > 1` the discriminator phase runs n times (unrolled; iteration i with key
fold_in(k_D, i)) before the generator's one step, as WGAN trains its critic (Arjovsky et al.
2017; Gulrajani et al. 2017 use n = 5); all n see the same real batch.
"""

from __future__ import annotations

from typing import Callable

import jax
import optax

from gen_jax.train.state import TrainState
from gen_jax.train.step import ema_update, step_key

DISCRIMINATOR, GENERATOR = "discriminator", "generator"

# loss_fn(own_params, other_params, batch, *, key, batch_stats) -> (loss, (metrics, batch_stats))
PlayerLoss = Callable[..., tuple[jax.Array, dict]]


def players(discriminator, generator) -> dict:
  """The params (or optimizer states) dict of a two-player state."""
  return {DISCRIMINATOR: discriminator, GENERATOR: generator}


def init_state(d_params, g_params, tx_d: optax.GradientTransformation,
               tx_g: optax.GradientTransformation, batch_stats=None, *, ema: bool = False) -> TrainState:
  """A fresh two-player TrainState: both params and both optimizer states (and, with `ema`,
  the generator's moving average, starting at its initial parameters)."""
  return TrainState.create(params=players(d_params, g_params), batch_stats=batch_stats,
                           opt_state=players(tx_d.init(d_params), tx_g.init(g_params)),
                           ema_params=jax.tree.map(lambda p: p.copy(), g_params) if ema else None)


def _player_step(loss_fn, tx, own, other, opt_state, batch, key, batch_stats, axis_name):
  """One optimizer step of one player: (new params, new opt state, loss, metrics, batch_stats)."""
  grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
  (loss, (metrics, batch_stats)), grads = grad_fn(own, other, batch, key=key, batch_stats=batch_stats)
  if axis_name is not None:
    grads, loss, metrics, batch_stats = jax.lax.pmean((grads, loss, metrics, batch_stats), axis_name)
  updates, opt_state = tx.update(grads, opt_state, own)
  return optax.apply_updates(own, updates), opt_state, loss, metrics, batch_stats


def make_two_player_update(d_loss_fn: PlayerLoss, g_loss_fn: PlayerLoss,
                           tx_d: optax.GradientTransformation, tx_g: optax.GradientTransformation,
                           *, d_steps: int = 1, ema_decay: float = 0.0, axis_name: str | None = None):
  """`update(state, batch, key) -> (state, metrics)`: discriminator step(s), then generator step.

  metrics = {"d_loss", "g_loss", "loss" (= g_loss), **d_metrics, **g_metrics}; with
  d_steps > 1 the discriminator's are those of its last iteration. With ema_decay = β > 0 the
  state also tracks θ_ema <- β θ_ema + (1 - β) θ (Yazıcı et al. 2019, "The Unusual
  Effectiveness of Averaging in GAN Training"), which does not change training.
  """
  if d_steps < 1:
    raise ValueError(f"d_steps (discriminator updates per step) must be >= 1, got {d_steps}")

  def d_phase(d, d_opt, g, batch, key, batch_stats):
    if d_steps == 1:
      return _player_step(d_loss_fn, tx_d, d, g, d_opt, batch, key, batch_stats, axis_name)
    # unrolled, not lax.scan: XLA's CPU backend ran this phase ~3x slower inside a loop body
    for i in range(d_steps):
      d, d_opt, loss, metrics, batch_stats = _player_step(d_loss_fn, tx_d, d, g, d_opt, batch,
                                                          jax.random.fold_in(key, i), batch_stats, axis_name)
    return d, d_opt, loss, metrics, batch_stats

  def update(state: TrainState, batch, key):
    key = step_key(key, state.step, axis_name)
    d, g = state.params[DISCRIMINATOR], state.params[GENERATOR]
    d, d_opt, d_loss, d_metrics, stats = d_phase(d, state.opt_state[DISCRIMINATOR], g, batch,
                                                 jax.random.fold_in(key, 0), state.batch_stats)
    g, g_opt, g_loss, g_metrics, stats = _player_step(g_loss_fn, tx_g, g, d, state.opt_state[GENERATOR],
                                                      batch, jax.random.fold_in(key, 1), stats, axis_name)
    metrics = {"loss": g_loss, "d_loss": d_loss, "g_loss": g_loss, **d_metrics, **g_metrics}
    ema = state.ema_params
    if ema_decay > 0:
      ema = ema_update(ema, g, ema_decay)
    new_state = state.replace(step=state.step + 1, params=players(d, g), opt_state=players(d_opt, g_opt),
                              batch_stats=stats, ema_params=ema)
    return new_state, metrics

  return update
