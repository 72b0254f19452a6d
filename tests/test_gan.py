"""GANs: the losses against hand-computed values, the networks, the codes, and the families."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import chex
from gen_jax import config as config_lib, data
from gen_jax.families import gan
from gen_jax.gan import losses, nets
from gen_jax.gan.codes import CodeSpec
from gen_jax.metrics import matched_accuracy
from gen_jax.train import adversarial, loop

D, G = adversarial.DISCRIMINATOR, adversarial.GENERATOR
softplus = lambda v: np.log1p(np.exp(v))


# --- the losses ------------------------------------------------------------------------------

def test_losses_match_hand_computed_values():
  real, fake = jnp.array([2.0, -1.0]), jnp.array([0.5, -3.0])
  np.testing.assert_allclose(losses.discriminator_bce(real, fake),
                             np.mean(softplus(-np.array([2.0, -1.0]))) + np.mean(softplus(np.array([0.5, -3.0]))),
                             rtol=1e-6)
  # -log D(G(z)) with D = σ(l): -log σ(0.5) = softplus(-0.5)
  np.testing.assert_allclose(losses.generator_non_saturating(fake), (softplus(-0.5) + softplus(3.0)) / 2, rtol=1e-6)
  np.testing.assert_allclose(losses.generator_minimax(fake), (np.log(1 - 1 / (1 + np.exp(-0.5)))
                                                              + np.log(1 - 1 / (1 + np.exp(3.0)))) / 2, rtol=1e-6)
  np.testing.assert_allclose(losses.critic_wasserstein(real, fake), (0.5 - 3.0) / 2 - (2.0 - 1.0) / 2, rtol=1e-6)
  np.testing.assert_allclose(losses.generator_wasserstein(fake), 1.25, rtol=1e-6)
  # InfoGAN: K = 3 logits then J = 2 means
  q = jnp.array([[0.0, 1.0, 2.0, 0.5, -0.5]])
  cat, cont = losses.info_terms(q, jnp.array([2]), jnp.array([[1.0, 0.0]]))
  np.testing.assert_allclose(cat, -(2.0 - np.log(np.exp(0) + np.exp(1) + np.exp(2))), rtol=1e-6)
  np.testing.assert_allclose(cont, 0.5 * (0.5 ** 2 + 0.5 ** 2), rtol=1e-6)
  with pytest.raises(ValueError, match="unknown loss.name 'hinge'"):
    losses.game("hinge")


def test_minimax_saturates_where_d_rejects_fakes_and_non_saturating_does_not():
  grad = lambda f, l: float(jax.grad(lambda v: f(jnp.array([v])))(l))
  for l in (-8.0, -12.0):  # D(G(z)) = σ(l) → 0
    assert abs(grad(losses.generator_minimax, l)) == pytest.approx(1 / (1 + np.exp(-l)), rel=1e-4)  # σ(l) → 0
    assert grad(losses.generator_minimax, l) > -1e-3
    assert grad(losses.generator_non_saturating, l) == pytest.approx(-1 / (1 + np.exp(l)), rel=1e-5)  # → -1
    assert grad(losses.generator_non_saturating, l) < -0.999
  # where D is fooled (l large) the roles swap: the minimax gradient is the strong one
  assert grad(losses.generator_minimax, 8.0) < -0.999 and grad(losses.generator_non_saturating, 8.0) > -1e-3


def test_gradient_penalty_is_per_sample():
  x = jax.random.normal(jax.random.key(0), (4, 3, 3, 2))
  w = jnp.arange(18.0).reshape(3, 3, 2) / 20
  linear = lambda xx, _: jnp.sum(xx * w, axis=(1, 2, 3))  # ∇f = w for every sample
  np.testing.assert_allclose(losses.gradient_penalty(linear, x), np.full(4, (np.linalg.norm(w) - 1) ** 2), rtol=1e-5)
  square = lambda xx, _: 0.5 * jnp.sum(xx ** 2, axis=(1, 2, 3))  # ∇f(x_i) = x_i
  expected = (np.linalg.norm(np.asarray(x).reshape(4, -1), axis=1) - 1) ** 2
  np.testing.assert_allclose(losses.gradient_penalty(square, x), expected, rtol=1e-5)
  # the real critic, conditional: one backward pass gives what vmap(grad) of each sample gives
  critic = nets.Discriminator("conv", (4, 8), num_classes=3)
  images, labels = jax.random.uniform(jax.random.key(1), (5, 12, 12, 1)), jnp.array([0, 1, 2, 0, 1])
  params = critic.init(jax.random.key(2), images, labels)
  f = lambda xx, yy: critic.apply(params, xx, yy)[0]
  one = jax.vmap(jax.grad(lambda xi, yi: f(xi[None], yi[None])[0]))(images, labels)
  expected = (np.linalg.norm(np.asarray(one).reshape(5, -1), axis=1) - 1) ** 2
  np.testing.assert_allclose(losses.gradient_penalty(f, images, labels), expected, rtol=1e-5)
  eps = losses.interpolates(jnp.ones((3, 2)), jnp.zeros((3, 2)), key=jax.random.key(3))
  assert len(set(np.asarray(eps[:, 0]).tolist())) == 3 and np.all(eps[:, 0] == eps[:, 1])  # one ε per sample


def test_matched_accuracy_finds_the_best_relabelling():
  classes = np.array([0, 0, 1, 1, 2, 2, 2])
  assert matched_accuracy((classes + 1) % 3, classes, 3) == 1.0  # a renamed perfect code
  assert matched_accuracy(np.array([1, 1, 0, 2, 2, 2, 2]), classes, 3) == pytest.approx(6 / 7)
  with pytest.raises(ValueError, match="equally long"):
    matched_accuracy(classes[:3], classes, 3)


# --- the networks and codes ------------------------------------------------------------------

def test_depth_to_space_places_channel_blocks_as_output_phases():
  h = jnp.arange(8.0).reshape(1, 1, 2, 4)  # two pixels, 4 channels (C = 1)
  out = nets.depth_to_space(h)[0, :, :, 0]
  np.testing.assert_array_equal(out, [[0, 1, 4, 5], [2, 3, 6, 7]])


def test_subpixel_upsampling_contains_the_transposed_convolution():
  """A least-squares fit of the sub-pixel kernel reproduces a random 4x4 stride-2 transposed
  convolution exactly: the same function class, computed by an ordinary convolution."""
  x = jax.random.normal(jax.random.key(0), (6, 5, 5, 2))
  tconv, sub = nets.Upsample(3, "transpose"), nets.Upsample(3, "subpixel", subpixel_kernel=3)
  target = tconv.apply(tconv.init(jax.random.key(1), x), x)  # [6, 10, 10, 3]
  p0 = sub.init(jax.random.key(2), x)
  flat, unravel = jax.flatten_util.ravel_pytree(p0)
  design = jax.jacobian(lambda v: sub.apply(unravel(v), x).ravel())(jnp.zeros_like(flat))  # linear in v
  v, *_ = np.linalg.lstsq(np.asarray(design, np.float64), np.asarray(target, np.float64).ravel(), rcond=None)
  fitted = sub.apply(unravel(jnp.asarray(v, jnp.float32)), x)
  assert fitted.shape == target.shape
  np.testing.assert_allclose(fitted, target, atol=1e-4)
  resize = nets.Upsample(3, "resize")  # nearest x2 + 3x3 is *not* that class: its fit leaves a residual
  flat_r, unravel_r = jax.flatten_util.ravel_pytree(resize.init(jax.random.key(2), x))
  design_r = jax.jacobian(lambda v: resize.apply(unravel_r(v), x).ravel())(jnp.zeros_like(flat_r))
  _, residual, *_ = np.linalg.lstsq(np.asarray(design_r, np.float64), np.asarray(target, np.float64).ravel(), rcond=None)
  assert float(residual[0]) > 1.0


def test_the_2x2_subpixel_layer_is_a_transposed_convolution_weight_for_weight():
  """Sub-pixel with a 2x2 kernel = the 4x4 stride-2 transposed convolution whose dilated input
  is padded (3, 1): output phase a of tap t uses the 4x4 weight K[1 - a + 2t]."""
  x = jax.random.normal(jax.random.key(0), (2, 5, 6, 3))  # [B, h, w, C_in]
  K = np.asarray(jax.random.normal(jax.random.key(1), (4, 4, 3, 2)))  # [kh, kw, C_in, C_out]
  tconv = jax.lax.conv_general_dilated(x, K, (1, 1), [(3, 1), (3, 1)], lhs_dilation=(2, 2),
                                       dimension_numbers=("NHWC", "HWIO", "NHWC"))  # [2, 10, 12, 2]
  W = np.zeros((2, 2, 3, 2, 2, 2), np.float32)  # [t, s, C_in, a, b, C_out]: phase (a, b) of channel block
  for t, s, a, b in np.ndindex(2, 2, 2, 2):
    W[t, s, :, a, b, :] = K[1 - a + 2 * t, 1 - b + 2 * s]
  sub = nets.Upsample(2, "subpixel", subpixel_kernel=2)
  params = {"params": {"Conv_0": {"kernel": jnp.asarray(W.reshape(2, 2, 3, 8)), "bias": jnp.zeros(8)}}}
  assert jax.tree.map(jnp.shape, sub.init(jax.random.key(2), x)) == jax.tree.map(jnp.shape, params)
  np.testing.assert_allclose(sub.apply(params, x), tconv, atol=1e-5)
  with pytest.raises(ValueError, match="subpixel_kernel must be 2 or 3"):
    nets.Upsample(2, "subpixel", subpixel_kernel=4).init(jax.random.key(0), x)


@pytest.mark.parametrize("shape", [(28, 28, 1), (13, 11, 3)])
@pytest.mark.parametrize("upsample", nets.UPSAMPLES)
def test_conv_generator_takes_its_shape_from_the_data(shape, upsample):
  g = nets.Generator("conv", shape, (8, 4), batch_norm=True, upsample=upsample, num_classes=10)
  z, y = jnp.zeros((2, 5)), jnp.array([1, 7])
  variables = g.init(jax.random.key(0), z, y, train=False)
  out, new = g.apply(variables, z, y, train=True, mutable=["batch_stats"])
  assert out.shape == (2, *shape) and float(jnp.max(jnp.abs(out))) <= 1.0
  assert set(new["batch_stats"]) == {"BatchNorm_0", "BatchNorm_1"}
  logits, q = nets.Discriminator("conv", (4, 8), q_outputs=12).apply(
      nets.Discriminator("conv", (4, 8), q_outputs=12).init(jax.random.key(1), out), out)
  assert logits.shape == (2,) and q.shape == (2, 12)


@pytest.mark.parametrize("conditioning", nets.CONDITIONINGS)
def test_discriminator_logits_depend_on_the_label(conditioning):
  d = nets.Discriminator("conv", (4, 8), num_classes=10, conditioning=conditioning)
  x = jax.random.uniform(jax.random.key(0), (2, 12, 12, 1))
  params = d.init(jax.random.key(1), x, jnp.array([0, 0]))
  a, b = d.apply(params, x, jnp.array([0, 0]))[0], d.apply(params, x, jnp.array([3, 0]))[0]
  assert float(jnp.abs(a[0] - b[0])) > 1e-4 and float(a[1]) == float(b[1])  # per sample, through y only


def test_codes_are_per_sample_and_validated():
  spec = CodeSpec(4, categorical=10, continuous=2)
  a, b = spec.draw(jax.random.key(0), 3), spec.draw(jax.random.key(0), 9)
  chex.assert_trees_all_equal(jax.tree.map(lambda v: v[:3], b), a)  # sample i ignores the count
  assert spec.generator_input(a).shape == (3, 4 + 10 + 2) and spec.q_outputs == 12
  assert float(jnp.max(jnp.abs(b.continuous))) < 1.0
  fixed = spec.draw(jax.random.key(0), 3, labels=jnp.array([5, 5, 5]))
  np.testing.assert_array_equal(fixed.labels, [5, 5, 5])
  np.testing.assert_array_equal(fixed.z, a.z)  # fixing the code leaves the noise alone
  with pytest.raises(ValueError, match="either conditional"):
    CodeSpec(4, num_classes=10, categorical=10)
  with pytest.raises(ValueError, match="takes no labels"):
    CodeSpec(4).draw(jax.random.key(0), 2, labels=jnp.array([0, 1]))


def test_two_player_update_runs_d_steps_discriminator_updates():
  def d_loss(phi, theta, batch, *, key, batch_stats):
    return 0.5 * (phi - theta) ** 2, ({}, batch_stats)

  def g_loss(theta, phi, batch, *, key, batch_stats):
    return 0.5 * (theta - 2 * phi) ** 2, ({}, batch_stats)

  tx_d, tx_g = optax.sgd(0.1), optax.sgd(0.5)
  state = adversarial.init_state(jnp.float32(1.0), jnp.float32(3.0), tx_d, tx_g)
  update = adversarial.make_two_player_update(d_loss, g_loss, tx_d, tx_g, d_steps=3)
  state, _ = jax.jit(update)(state, {}, jax.random.key(0))
  # φ: 1 -> 1.2 -> 1.38 -> 1.542 (each φ - 0.1(φ - 3)); then θ = 3 - 0.5(3 - 2·1.542) = 3.042
  np.testing.assert_allclose(state.params[D], 1.542, rtol=1e-6)
  np.testing.assert_allclose(state.params[G], 3.042, rtol=1e-6)
  with pytest.raises(ValueError, match="d_steps"):
    adversarial.make_two_player_update(d_loss, g_loss, tx_d, tx_g, d_steps=0)
  # the generator's moving average: θ_ema = β θ_ema + (1 - β) θ after each step, training unchanged
  ema_state = adversarial.init_state(jnp.float32(1.0), jnp.float32(3.0), tx_d, tx_g, ema=True)
  ema_update = jax.jit(adversarial.make_two_player_update(d_loss, g_loss, tx_d, tx_g, d_steps=3, ema_decay=0.9))
  ema_state, _ = ema_update(ema_state, {}, jax.random.key(0))
  np.testing.assert_allclose(ema_state.ema_params, 0.9 * 3.0 + 0.1 * 3.042, rtol=1e-6)
  chex.assert_trees_all_equal(ema_state.params, state.params)


# --- the families on real MNIST ----------------------------------------------------------------

def tiny(model, mnist_dir, *overrides):
  return config_lib.override(config_lib.load(model, "tiny"), [f"data.data_dir={mnist_dir}", *overrides])


def train_tiny(config, steps):
  """(family, splits, initial state, final state, metrics of every step), through the engine's jit."""
  from gen_jax.train import sharding

  family, splits = gan.build(config), data.load(config.data)
  batches, keys, mesh = data.Batches(splits["train"], config.data.batch_size, seed=0), loop.run_keys(0), sharding.make_mesh()
  update = loop.compile_update(family.update, mesh)
  start = family.init(keys.init, batches.batch(0))
  state, history = sharding.replicate(start, mesh), []
  for s in range(steps):
    state, metrics = update(state, sharding.shard_batch(batches.batch(s), mesh), keys.train)
    history.append({k: float(v) for k, v in metrics.items()})
  return family, splits, family.init(keys.init, batches.batch(0)), state, history


DCGAN_NETS = ("net.discriminator_batch_norm=False", "net.generator_dense=()", "net.discriminator_dense=()")


@pytest.mark.parametrize("model, overrides", [(m, ()) for m in gan.MODELS] + [("infogan", DCGAN_NETS)])
def test_each_tiny_gan_learns_on_mnist(model, overrides, mnist_dir):
  config = tiny(model, mnist_dir, *overrides)
  family, splits, start, state, history = train_tiny(config, 48 if model == "infogan" else 32)
  expected_stats = ({G} if config.net.batch_norm else set()) | ({D} if config.net.discriminator_batch_norm else set())
  assert set(state.batch_stats) == expected_stats
  labels = np.arange(16) % 10 if family.conditional else None
  before, after = (np.asarray(family.draw(s, jax.random.key(5), 16, labels=labels), np.float32) for s in (start, state))
  assert before.shape == (16, 28, 28, 1) and np.mean(np.abs(after - before)) > 5.0  # the samples changed
  if model == "wgan_gp":  # the critic separates real from fake: E f(x) - E f(G(z)) > 0
    assert history[-1]["wasserstein_estimate"] > 0 and history[-1]["gradient_penalty"] >= 0
  elif not config.net.discriminator_batch_norm:  # (with BN in D, 48 tiny steps move Q first: checked below)
    # the discriminator leaves chance: its accuracy, or its loss below log 4 (D = ½ everywhere)
    left_chance = (max(abs(h["d_accuracy"] - 0.5) for h in history) > 0.2
                   or min(h["d_loss"] - h.get("info_categorical", 0) - 0.1 * h.get("info_continuous", 0)
                          for h in history) < np.log(4) - 0.1)
    assert left_chance, [(h["d_accuracy"], h["d_loss"]) for h in history]
  if model == "infogan":  # Q learns the categorical code: -log Q falls below log 10 (chance)
    assert history[-1]["info_categorical"] < np.log(10) - 0.2, [h["info_categorical"] for h in history]
  results = family.evaluate(state, splits["test"], loop.run_keys(0).eval)
  assert results["num_examples"] == 128
  assert all(np.isfinite(v) for v in results.values())
  if model == "infogan":
    assert results["test_q_code_accuracy"] > 0.2  # chance: 0.1


def test_gradient_penalty_weight_changes_the_discriminator_loss(mnist_dir):
  def first_step(weight):
    config = tiny("wgan_gp", mnist_dir, f"loss.gradient_penalty={weight}", "train.d_steps=1")
    family = gan.build(config)
    batches = data.Batches(data.load(config.data)["train"], 32, seed=0)
    state = family.init(loop.run_keys(0).init, batches.batch(0))
    return jax.jit(family.update)(state, batches.batch(0), loop.run_keys(0).train)[1]

  m1, m10 = first_step(1.0), first_step(10.0)
  assert float(m1["gradient_penalty"]) == pytest.approx(float(m10["gradient_penalty"]), rel=1e-6)  # same x̂, φ
  assert float(m1["gradient_penalty"]) > 1e-3
  np.testing.assert_allclose(float(m10["d_loss"]) - float(m1["d_loss"]), 9 * float(m1["gradient_penalty"]), rtol=1e-4)


def test_bad_inputs_give_clear_errors(mnist_dir):
  config = tiny("cgan", mnist_dir)
  family = gan.build(config)
  batch = data.Batches(data.load(config.data)["train"], 32, seed=0).batch(0)
  with pytest.raises(ValueError, match=r"a GAN expects images \[B, H, W, C\]"):
    family.init(loop.run_keys(0).init, {**batch, "image": batch["image"].reshape(32, -1)})
  state = family.init(loop.run_keys(0).init, batch)
  with pytest.raises(ValueError, match=r"\[B, 28, 28, 1\] in \[-1, 1\].*\(32, 14, 14, 1\)"):
    family.update(state, {**batch, "image": batch["image"][:, :14, :14]}, loop.run_keys(0).train)
  with pytest.raises(ValueError, match=r"labels must be 4 integers in \[0, 10\)"):
    family.sample(state, jax.random.key(0), 4, labels=[0, 1, 2, 10])
  with pytest.raises(ValueError, match="unconditional"):
    gan.build(tiny("dcgan", mnist_dir)).draw(state, jax.random.key(0), 2, labels=np.array([0, 1]))
  for override, message in (("loss.name=hinge", "unknown loss.name"), ("net.upsample=bilinear", "unknown net.upsample"),
                            ("data.scale=unit", "data.scale must be 'symmetric'"),
                            ("net.conditioning=concat", "unknown net.conditioning"),
                            ("loss.gradient_penalty=10.0", "used with loss.name = 'wasserstein' only")):
    with pytest.raises(ValueError, match=message):
      gan.build(tiny("dcgan", mnist_dir, override))
  with pytest.raises(ValueError, match="critic without batch norm"):
    gan.build(tiny("wgan_gp", mnist_dir, "net.discriminator_batch_norm=True"))


# --- exact resume of both players, BatchNorm statistics included; the command line ---------------

N, K = 32, 12  # tiny: 16 steps per epoch, so the resumed run crosses an epoch boundary


@pytest.fixture(scope="module")
def cgan_runs(mnist_dir, tmp_path_factory):
  """The tiny conditional DCGAN (BN in G, labels in both players) trained N steps straight, and
  K steps then resumed to N, through the engine's loop."""
  root = tmp_path_factory.mktemp("gan_resume")
  config = lambda steps: tiny("cgan", mnist_dir, f"train.num_steps={steps}", "train.log_every=1")
  loop.train(config(N), root / "straight")
  loop.train(config(K), root / "interrupted")
  _, _, half = loop.restore_run(root / "interrupted")
  loop.train(config(N), root / "interrupted")
  return root, half


def test_gan_resume_is_bitwise_exact_for_both_players(cgan_runs):
  import json

  root, half = cgan_runs
  _, _, straight = loop.restore_run(root / "straight")
  _, _, resumed = loop.restore_run(root / "interrupted")
  assert int(half.step) == K and int(straight.step) == int(resumed.step) == N
  assert set(straight.batch_stats) == {G}
  for part in ("params", "opt_state", "batch_stats"):
    chex.assert_trees_all_equal(getattr(straight, part), getattr(resumed, part))
  with pytest.raises(AssertionError):  # the check can fail: the half-way state differs
    chex.assert_trees_all_equal(half.batch_stats, resumed.batch_stats)
  # the same keys after the restart: every logged loss of steps K+1..N is identical
  logged = lambda run: {r["step"]: (r["d_loss"], r["g_loss"]) for r in map(json.loads, (root / run / "metrics.jsonl")
                                                                           .read_text().splitlines())
                        if r.get("split") == "train" and r["step"] > K}
  assert logged("straight") == logged("interrupted") and len(logged("straight")) == N - K
  for name in ("loss_curves.png", f"samples_{N:07d}.png", "eval.json"):
    assert (root / "straight" / name).is_file()


def test_conditional_samples_from_the_command_line(cgan_runs, tmp_path):
  from tests.conftest import run_gen_jax

  root, _ = cgan_runs
  run_gen_jax("sample", "--workdir", str(root / "straight"), "--num", "6", "--seed", "1", "--labels", "3,7",
              "--out", str(tmp_path / "s.npz"), cwd=tmp_path)
  out = np.load(tmp_path / "s.npz")
  assert out["images"].shape == (6, 28, 28, 1) and out["images"].dtype == np.uint8
  np.testing.assert_array_equal(out["labels"], [3, 7, 3, 7, 3, 7])
  assert (tmp_path / "s.png").is_file()
