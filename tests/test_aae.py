"""The two-player step and the adversarial autoencoder (Makhzani et al. 2016)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import chex
from gen_jax import config as config_lib, data
from gen_jax.families import aae
from gen_jax.train import adversarial, loop
from gen_jax.train.step import step_key
from tests.conftest import run_gen_jax

D, G = adversarial.DISCRIMINATOR, adversarial.GENERATOR


# --- the generic two-player update on a toy quadratic game -------------------------------

def d_loss(phi, theta, batch, *, key, batch_stats):
  """L_D = ½(φ - θ)²: ∂/∂φ = φ - θ. `key_draw` records the key the player was given."""
  return 0.5 * (phi["w"] - theta["w"]) ** 2, ({"d_key_draw": jax.random.uniform(key)}, batch_stats)


def g_loss(theta, phi, batch, *, key, batch_stats):
  """L_G = ½(θ - 2φ)²: ∂/∂θ = θ - 2φ."""
  return 0.5 * (theta["w"] - 2 * phi["w"]) ** 2, ({"g_key_draw": jax.random.uniform(key)}, batch_stats)


def toy_state(tx_d, tx_g, phi=1.0, theta=3.0):
  return adversarial.init_state({"w": jnp.float32(phi)}, {"w": jnp.float32(theta)}, tx_d, tx_g)


def test_generator_phase_sees_the_updated_discriminator():
  # φ0 = 1, θ0 = 3. D: φ1 = 1 - 0.1·(1 - 3) = 1.2. G against φ1: θ1 = 3 - 0.5·(3 - 2·1.2) = 2.7
  # (against the stale φ0 it would be 3 - 0.5·(3 - 2) = 2.5).
  update = jax.jit(adversarial.make_two_player_update(d_loss, g_loss, optax.sgd(0.1), optax.sgd(0.5)))
  key = jax.random.key(7)
  state, metrics = update(toy_state(optax.sgd(0.1), optax.sgd(0.5)), {}, key)
  np.testing.assert_allclose(state.params[D]["w"], 1.2, rtol=1e-6)
  np.testing.assert_allclose(state.params[G]["w"], 2.7, rtol=1e-6)
  np.testing.assert_allclose(metrics["d_loss"], 0.5 * 2.0**2, rtol=1e-6)    # at (φ0, θ0)
  np.testing.assert_allclose(metrics["g_loss"], 0.5 * 0.6**2, rtol=1e-5)    # at (φ1, θ0)
  assert int(state.step) == 1
  k0 = step_key(key, jnp.int32(0))  # the players' keys: fold_in(step key, 0) and (…, 1)
  assert float(metrics["d_key_draw"]) == float(jax.random.uniform(jax.random.fold_in(k0, 0)))
  assert float(metrics["g_key_draw"]) == float(jax.random.uniform(jax.random.fold_in(k0, 1)))
  state, metrics2 = update(state, {}, key)  # the next step gets the next step's keys
  assert float(metrics2["d_key_draw"]) != float(metrics["d_key_draw"])


@pytest.mark.parametrize("frozen", [D, G])
def test_each_player_moves_only_through_its_own_optimizer(frozen):
  momentum, still = optax.sgd(0.1, momentum=0.9), optax.set_to_zero()
  tx_d, tx_g = (still, momentum) if frozen == D else (momentum, still)
  update = jax.jit(adversarial.make_two_player_update(d_loss, g_loss, tx_d, tx_g))
  start = toy_state(tx_d, tx_g)
  state = start
  for _ in range(3):
    state, _ = update(state, {}, jax.random.key(0))
  moving = G if frozen == D else D
  assert float(state.params[frozen]["w"]) == float(start.params[frozen]["w"])
  assert abs(float(state.params[moving]["w"]) - float(start.params[moving]["w"])) > 1e-3
  chex.assert_trees_all_equal(state.opt_state[frozen], start.opt_state[frozen])
  trace = state.opt_state[moving][0].trace["w"]  # the momentum of the moving player only
  assert abs(float(trace)) > 1e-3


# --- the AAE family ---------------------------------------------------------------------

def tiny(mnist_dir, *overrides):
  return config_lib.override(config_lib.load("aae", "tiny"), [f"data.data_dir={mnist_dir}", *overrides])


SGD = ("optimizer.name=sgd", "optimizer.learning_rate=0.01",
       "discriminator_optimizer.name=sgd", "discriminator_optimizer.learning_rate=0.01")


@pytest.fixture(scope="module")
def setup(mnist_dir):
  """(config, splits, batches, family, state) of the tiny config with SGD (optax's Adam bias
  correction, `decay ** count` with an int32 count, fails under the tests' strict promotion)."""
  config = tiny(mnist_dir, *SGD)
  splits = data.load(config.data)
  batches = data.Batches(splits["train"], config.data.batch_size, seed=0)
  family = aae.build(config)
  return config, splits, batches, family, family.init(loop.run_keys(0).init, batches.batch(0))


def test_sample_i_does_not_depend_on_num(setup):
  _, _, _, family, state = setup
  one, seven = family.sample(state, jax.random.key(3), 1), family.sample(state, jax.random.key(3), 7)
  assert seven.shape == (7, 28, 28, 1) and seven.dtype == np.uint8
  np.testing.assert_array_equal(one[0], seven[0])
  assert not np.array_equal(seven[0], seven[1])


def test_mixture_prior_has_the_documented_means():
  net = config_lib.load("aae", "mixture").net
  net.latent_dim = 3  # the third dimension's mean is 0
  k = np.arange(10)
  expected = np.stack([4 * np.cos(2 * np.pi * k / 10), 4 * np.sin(2 * np.pi * k / 10), 0 * k], 1)
  np.testing.assert_allclose(aae.prior_means(net), expected, atol=1e-5)
  draw = jax.jit(lambda key: aae.prior_sample(net, key, 20_000))
  z, comp = draw(jax.random.key(0))
  z, comp = np.asarray(z), np.asarray(comp)
  counts = np.bincount(comp, minlength=10)
  assert counts.min() > 1700  # equal weights: 2,000 ± 4σ
  for c in range(10):
    part = z[comp == c]
    np.testing.assert_allclose(part.mean(0), expected[c], atol=4 * 0.5 / np.sqrt(len(part)))
    np.testing.assert_allclose(part.std(0), 0.5, rtol=0.1)
  # the log-density peaks at the means and is a normalised 3-D mixture there
  peak = np.log(0.1) - 1.5 * np.log(2 * np.pi * 0.25)
  np.testing.assert_allclose(aae.prior_log_prob(net, jnp.asarray(expected[:1], jnp.float32)), [peak], rtol=1e-4)


def test_update_under_pmap_equals_jit(setup):
  config, _, batches, family, state = setup
  pfamily, keys = aae.build(config, axis_name="batch"), loop.run_keys(0)
  batch = batches.batch(0)
  stacked = jax.tree.map(lambda a: jnp.stack([a]), state)
  p_state, p_metrics = jax.pmap(pfamily.update, axis_name="batch", in_axes=(0, 0, None))(
      stacked, {k: v[None] for k, v in batch.items()}, keys.train)
  # under pmap the step key is fold_in(fold_in(key, 0), device 0); jit at step 0 computes
  # fold_in(key', 0), so key' = fold_in(key, 0) gives it the same randomness
  j_state, j_metrics = jax.jit(family.update)(state, batch, jax.random.fold_in(keys.train, 0))
  chex.assert_trees_all_close(jax.tree.map(lambda a: a[0], p_state.params), j_state.params, atol=1e-6)
  chex.assert_trees_all_close({k: v[0] for k, v in p_metrics.items()}, j_metrics, atol=1e-4)
  moved = max(float(jnp.max(jnp.abs(a - b))) for a, b in
              zip(jax.tree.leaves(j_state.params), jax.tree.leaves(state.params)))
  assert moved > 1e-6


def test_bad_input_shapes_give_a_clear_error(setup):
  _, splits, batches, family, state = setup
  flat = {k: (v.reshape(len(v), -1) if k == "image" else v) for k, v in batches.batch(0).items()}
  with pytest.raises(ValueError, match=r"aae expects images \[B, H, W, C\]"):
    family.init(loop.run_keys(0).init, flat)
  small = {"image": batches.batch(0)["image"][:, :14, :14], "label": batches.batch(0)["label"]}
  with pytest.raises(ValueError, match=r"\[B, 28, 28, 1\].*\(50, 14, 14, 1\)"):
    family.update(state, small, loop.run_keys(0).train)
  with pytest.raises(ValueError, match="aae expects images"):
    family.evaluate(state, {"image": splits["test"]["image"][:, :, :, 0]}, loop.run_keys(0).eval)
  with pytest.raises(ValueError, match="unknown net.prior"):
    aae.build(tiny("", "net.prior=uniform"))


# --- exact resume of both players through the command line ------------------------------

N, K = 40, 20  # tiny: 20 steps per epoch, so the resumed run crosses an epoch boundary


def train_aae(workdir, mnist_dir, steps):
  return run_gen_jax("train", "aae", "--config", "tiny", "--data-dir", str(mnist_dir), "--workdir", str(workdir),
                     f"--config.train.num_steps={steps}", "--config.train.log_every=1", cwd=workdir.parent)


@pytest.fixture(scope="module")
def runs(mnist_dir, tmp_path_factory):
  """The tiny config (Adam) trained N steps straight, and K steps then resumed to N."""
  root = tmp_path_factory.mktemp("aae_resume")
  train_aae(root / "straight", mnist_dir, N)
  train_aae(root / "interrupted", mnist_dir, K)
  _, _, half = loop.restore_run(root / "interrupted")
  train_aae(root / "interrupted", mnist_dir, N)
  return root, half


def test_tiny_aae_learns_on_mnist(runs):
  root, _ = runs
  lines = [json.loads(l) for l in (root / "straight" / "metrics.jsonl").read_text().splitlines()]
  first = next(l for l in lines if l["split"] == "train")
  assert first["step"] == 1  # the autoencoder's loss at step 0 is at its init parameters
  final = json.loads((root / "straight" / "eval.json").read_text())
  assert final["step"] == N
  assert final["test_recon_bce"] < 0.7 * first["recon_bce"], (first, final)
  assert 0.0 <= final["test_disc_accuracy"] <= 1.0 and final["test_mse"] < 0.25
  for name in ("latent_space.png", "reconstructions.png", f"samples_{N:07d}.png"):
    assert (root / "straight" / name).is_file()


def test_aae_resume_is_exact_for_both_optimizers(runs):
  root, half = runs
  assert int(half.step) == K
  _, _, straight = loop.restore_run(root / "straight")
  _, family, resumed = loop.restore_run(root / "interrupted")
  assert int(straight.step) == int(resumed.step) == N
  assert set(straight.params) == set(straight.opt_state) == {D, G}
  chex.assert_trees_all_equal(straight.params, resumed.params)
  chex.assert_trees_all_equal(straight.opt_state[D], resumed.opt_state[D])
  chex.assert_trees_all_equal(straight.opt_state[G], resumed.opt_state[G])
  with pytest.raises(AssertionError):  # the check can fail: the half-way state differs
    chex.assert_trees_all_equal(half.params[D], resumed.params[D])


def test_evaluate_is_deterministic_from_its_key(runs, setup):
  _, splits, _, _, _ = setup
  _, family, state = loop.restore_run(runs[0] / "straight")
  test = {"image": splits["test"]["image"][:250]}
  a, b = family.evaluate(state, test, jax.random.key(0)), family.evaluate(state, test, jax.random.key(0))
  assert a == b
  assert family.evaluate(state, test, jax.random.key(1))["test_recon_bce"] != a["test_recon_bce"]
