"""The VAE and hierarchical VAE families: learning, bounds on trained models, extremes, errors."""

import hashlib
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import cli, data, registry
from gen_jax import config as config_lib
from gen_jax.latent import model as chain
from gen_jax.train import loop
from tests.conftest import real_mnist


def vae_config(mnist_dir, name="vae", variant="tiny", *overrides):
  return config_lib.override(config_lib.load(name, variant), [f"data.data_dir={mnist_dir}", *overrides])


@pytest.fixture(scope="module", params=["vae", "hvae"])
def trained(request, mnist_dir, tmp_path_factory):
  """A tiny VAE / two-layer HVAE trained once through the engine."""
  workdir = tmp_path_factory.mktemp(request.param)
  config = vae_config(mnist_dir, request.param)
  results = loop.train(config, workdir)
  return config, workdir, results


@real_mnist
def test_tiny_configs_learn_real_mnist(trained):
  config, workdir, results = trained
  lines = [json.loads(l) for l in (workdir / "metrics.jsonl").read_text().splitlines()]
  first = next(l for l in lines if l["split"] == "train")
  assert first["elbo"] < -400  # ~ -543 nats (784 log 2) at initialisation
  assert results["test_nll_elbo"] < 230, results  # 120 steps on 1,000 images
  for name in ("reconstructions.png", "interpolation_linear.png", "interpolation_slerp.png", "traversal.png",
               "samples_0000120.png", "loss_curves.png"):
    assert (workdir / name).is_file(), name


def bounds_at(config, workdir, k, chunk):
  config = config_lib.override(config, [f"eval.iwae_k={k}", f"eval.iwae_chunk={chunk}"])
  _, family, state = loop.restore_run(workdir, data_dir=config.data.data_dir,
                                      eval_overrides=[f"eval.iwae_k={k}", f"eval.iwae_chunk={chunk}"])
  test = data.load(config.data)["test"]
  return family.evaluate(state, test, loop.run_keys(config.seed).eval)


def test_iwae_nll_is_below_the_elbo_nll_and_falls_with_k(trained):
  config, workdir, _ = trained
  nll = {k: bounds_at(config, workdir, k, min(k, 10))[f"test_nll_iwae{k}"] for k in (1, 5, 50)}
  elbo = bounds_at(config, workdir, 50, 10)["test_nll_elbo"]
  assert nll[50] <= elbo
  assert nll[50] <= nll[5] + 0.05 and nll[5] <= nll[1] + 0.05, nll  # beyond sampling error
  assert nll[1] - nll[50] > 0.5  # importance weighting helps a tiny model by nats
  assert abs(nll[1] - elbo) < 1.0  # L_1 is the ELBO (different samples)


def test_bounds_do_not_depend_on_the_chunks(trained):
  config, workdir, _ = trained
  a = bounds_at(config, workdir, 20, 20)
  b = bounds_at(config, workdir, 20, 5)
  assert a["test_nll_iwae20"] == pytest.approx(b["test_nll_iwae20"], rel=1e-6)


def test_samples_do_not_depend_on_num(trained):
  config, workdir, _ = trained
  _, family, state = loop.restore_run(workdir)
  one, seven = family.draw(state, jax.random.key(4), 1), family.draw(state, jax.random.key(4), 7)
  assert one.dtype == np.uint8 and seven.shape == (7, 28, 28, 1)
  np.testing.assert_array_equal(one[0], seven[0])
  assert not np.array_equal(seven[0], seven[1])


def test_the_fixed_test_binarization_is_fixed():
  grey = np.linspace(0, 1, 28 * 28 * 4, dtype=np.float32).reshape(4, 28, 28, 1)
  bits = data.fixed_binarized(grey, seed=0)
  assert set(np.unique(bits)) <= {0.0, 1.0}
  np.testing.assert_array_equal(bits, data.fixed_binarized(grey, seed=0))
  # numpy's PCG64 stream is fixed across platforms and versions: this digest pins it
  assert hashlib.sha256(bits.tobytes()).hexdigest()[:16] == "5610bee81ea7685e"


def extreme_batches():
  shape = (4, 28, 28, 1)
  return {"zeros": np.zeros(shape, np.float32), "ones": np.ones(shape, np.float32)}


@pytest.mark.parametrize("name", ["vae", "hvae"])
def test_elbo_and_gradients_are_finite_for_extreme_inputs_and_huge_weights(mnist_dir, name):
  config = vae_config(mnist_dir, name, "tiny", "data.batch_size=4")
  family = registry.build(config)
  keys = loop.run_keys(0)
  state = family.init(keys.init, {"image": extreme_batches()["zeros"]})
  huge = state.replace(params=jax.tree.map(lambda p: p * 1e3, state.params))  # saturated tanh, huge logits
  update = jax.jit(family.update)
  for s in (state, huge):
    for batch in extreme_batches().values():
      new_state, metrics = update(s, {"image": batch}, keys.train)
      assert all(np.isfinite(float(v)) for v in metrics.values()), metrics
      assert bool(loop.all_finite(new_state))


def test_gaussian_decoder_variant_is_the_books_mse_loss(mnist_dir):
  """dlfs5: with decoder std 1, -log p(x|z) = ½||x - x̂||² + D/2 log 2π (the book's MSE sum)."""
  config = vae_config(mnist_dir, "vae", "dlfs5")
  assert config.net.likelihood == "gaussian" and tuple(config.net.latents) == (20,)
  x = jnp.full((2, 4, 4, 1), 0.25)
  out = jnp.zeros((2, 4, 4, 1))  # sigmoid(0) = 0.5
  expected = -(0.5 * 16 * 0.25 ** 2 + 8 * np.log(2 * np.pi))
  np.testing.assert_allclose(chain.x_log_prob(x, out, "gaussian", 1.0), [expected] * 2, rtol=1e-6)


def test_dynamic_binarization_differs_per_step(mnist_dir):
  config = vae_config(mnist_dir)
  family = registry.build(config)
  batch = data.Batches(data.load(config.data)["train"], 50, seed=0).batch(0)
  keys = loop.run_keys(0)
  state = family.init(keys.init, batch)
  at = lambda step: jax.jit(family.update)(state.replace(step=jnp.int32(step)), batch, keys.train)[1]["loss"]
  assert float(at(3)) == float(at(3)) != float(at(4))


def test_bad_shapes_and_configs_are_clear_errors(mnist_dir, capsys, tmp_path):
  family = registry.build(vae_config(mnist_dir))
  with pytest.raises(ValueError, match=r"images \[B, H, W, C\]"):
    family.init(jax.random.key(0), {"image": np.zeros((4, 784), np.float32)})
  with pytest.raises(ValueError, match="one entry per stochastic layer"):
    registry.build(vae_config(mnist_dir, "vae", "tiny", "net.latents=(8, 4)"))
  with pytest.raises(ValueError, match="net.likelihood"):
    registry.build(vae_config(mnist_dir, "vae", "tiny", "net.likelihood=poisson"))
  code = cli.main(["train", "vae", "--config", "tiny", "--workdir", str(tmp_path / "w"), "--data-dir", str(mnist_dir),
                   "--config.eval.iwae_chunk=7"])
  assert code == 2 and "must divide" in capsys.readouterr().err and not (tmp_path / "w").exists()


def test_conv_vae_takes_its_image_shape_from_the_data(mnist_dir):
  """The conv variant on 12x12 RGB images: shape and channels come from the batch."""
  config = vae_config(mnist_dir, "vae", "conv", "net.encoder_widths=((8,),)", "net.decoder_widths=((8,),)",
                      "net.latents=(4,)", "eval.iwae_k=4", "eval.iwae_chunk=2")
  family = registry.build(config)
  x = np.random.default_rng(0).random((6, 12, 12, 3)).astype(np.float32)
  keys = loop.run_keys(0)
  state = family.init(keys.init, {"image": x})
  state, metrics = jax.jit(family.update)(state, {"image": x}, keys.train)
  assert np.isfinite(float(metrics["loss"]))
  assert family.draw(state, jax.random.key(0), 3).shape == (3, 12, 12, 3)
  results = family.evaluate(state, {"image": x}, keys.eval)
  assert results["test_nll_iwae4"] <= results["test_nll_elbo"] and results["num_examples"] == 6
  with pytest.raises(ValueError, match="built for"):
    family.evaluate(state, {"image": x[:, :10, :10]}, keys.eval)


@pytest.mark.parametrize("arch,likelihood,latents", [("mlp", "bernoulli", (6,)), ("mlp", "bernoulli", (6, 3)),
                                                     ("conv", "bernoulli", (6,)), ("mlp", "gaussian", (6, 3))])
def test_grouped_log_weights_equal_the_per_sample_formula(arch, likelihood, latents):
  """IWAE's log w for K samples per image, without repeating x, is log p(x, z) - log q(z|x)
  computed sample by sample (x repeated K times) with the ELBO's own functions."""
  g, k, shape = 3, 4, (8, 8, 1)
  widths = tuple((16,) for _ in latents)
  model = chain.ChainVAE(arch, shape, latents, widths, widths, "tanh")
  x = (np.random.default_rng(0).random((g, *shape)) < 0.4).astype(np.float32)
  if likelihood == "gaussian":
    x = np.random.default_rng(1).random((g, *shape)).astype(np.float32)
  params = model.init(jax.random.key(0), x)["params"]
  leaves, tree = jax.tree.flatten(params)  # non-zero biases too; saturating units, large logits
  noise = [jax.random.normal(jax.random.key(10 + i), p.shape) for i, p in enumerate(leaves)]
  params = jax.tree.unflatten(tree, [3 * p + n for p, n in zip(leaves, noise)])
  eps = [jax.random.normal(jax.random.key(l + 1), (g * k, d)) for l, d in enumerate(latents)]
  h1 = model.apply({"params": params}, 0, x, method=chain.ChainVAE.q)
  with jax.default_matmul_precision("highest"):
    grouped = chain.log_weights(model, params, x, h1, eps, likelihood=likelihood, decoder_std=0.7)
    xr = np.repeat(x, k, axis=0)
    zs, _, log_q = chain.infer(model, params, xr, eps)
    log_px, log_pz, log_top = chain.log_joint_parts(model, params, xr, zs, likelihood, 0.7)
  np.testing.assert_allclose(grouped, log_px + log_pz + log_top - log_q, rtol=2e-5, atol=1e-3)


def test_the_decoders_x_dot_needs_one_output_per_pixel():
  decoder = chain.Decoder("mlp", (8,), (4, 4, 1), channels_per_pixel=2)
  z, x = jnp.zeros((6, 3)), jnp.zeros((3, 4, 4, 1))
  params = decoder.init(jax.random.key(0), z)
  with pytest.raises(ValueError, match="one output per pixel"):
    decoder.apply(params, z, x)
  with pytest.raises(ValueError, match="G dividing"):
    chain.Decoder("mlp", (8,), (4, 4, 1)).apply(chain.Decoder("mlp", (8,), (4, 4, 1)).init(jax.random.key(0), z),
                                                z, jnp.zeros((4, 4, 4, 1)))


def tiny_chain(latents, shape=(8, 8, 1), seed=0):
  widths = tuple((16,) for _ in latents)
  model = chain.ChainVAE("mlp", shape, latents, widths, widths, "tanh")
  x = (np.random.default_rng(seed).random((3, *shape)) < 0.4).astype(np.float32)
  return model, model.init(jax.random.key(seed), x)["params"], x


@pytest.mark.parametrize("latents", [(6,), (6, 3)])
def test_iwae_objective_is_the_log_mean_of_the_per_sample_weights(latents):
  """L_k = log (1/k) Σ_i w_i, with log w_i from the per-sample formula (x repeated k times),
  and its gradient is Σ_i w̃_i ∇ log w_i with the normalised weights w̃ held fixed."""
  from gen_jax.families.vae import iwae_objective, noises
  model, params, x = tiny_chain(latents)
  k, key = 4, jax.random.key(7)
  objective = lambda p: iwae_objective(model, p, x, k=k, key=key, likelihood="bernoulli", decoder_std=1.0)
  with jax.default_matmul_precision("highest"):
    bound, lw = objective(params)
    xr = np.repeat(x, k, axis=0)
    zs, _, log_q = chain.infer(model, params, xr, noises(key, 3 * k, latents))
    log_px, log_pz, log_top = chain.log_joint_parts(model, params, xr, zs, "bernoulli", 1.0)
    grad = jax.grad(lambda p: objective(p)[0].sum())(params)
    w = jax.lax.stop_gradient(jax.nn.softmax(lw, axis=1))
    weighted = jax.grad(lambda p: jnp.sum(w * objective(p)[1]))(params)
  per_sample = np.asarray(log_px + log_pz + log_top - log_q, np.float64).reshape(3, k)
  np.testing.assert_allclose(lw, per_sample, rtol=2e-5, atol=1e-3)
  np.testing.assert_allclose(bound, np.log(np.mean(np.exp(per_sample - per_sample.max(1, keepdims=True)), 1))
                             + per_sample.max(1), rtol=1e-5)
  for g, h in zip(jax.tree.leaves(grad), jax.tree.leaves(weighted)):
    np.testing.assert_allclose(g, h, rtol=1e-4, atol=1e-5)


def test_iwae_objective_with_one_sample_is_the_elbo_in_expectation():
  """k = 1: log w is an unbiased one-sample ELBO; its mean over 4,000 draws meets the
  analytic-KL ELBO of `elbo_terms` (the training loss of loss.iwae_k = 1)."""
  from gen_jax.families.vae import iwae_objective, noises
  model, params, x = tiny_chain((6,))
  keys = jax.random.split(jax.random.key(3), 4000)
  one = jax.vmap(lambda kk: iwae_objective(model, params, x, k=1, key=kk, likelihood="bernoulli",
                                           decoder_std=1.0)[0])(keys)  # [4000, 3]
  analytic = jax.vmap(lambda kk: jnp.subtract(*chain.elbo_terms(model, params, x, noises(kk, 3, (6,)),
                                                               likelihood="bernoulli")))(keys)
  spread = np.asarray(one).std(0) / np.sqrt(len(keys))
  np.testing.assert_array_less(np.abs(np.asarray(one).mean(0) - np.asarray(analytic).mean(0)), 5 * spread + 1e-3)


@real_mnist
@pytest.mark.parametrize("name", ["vae", "hvae"])
def test_iwae_training_learns_real_mnist_and_its_bound_tops_the_elbo(mnist_dir, tmp_path, name):
  config = vae_config(mnist_dir, name, "tiny", "loss.iwae_k=5", "train.sample_every=0")
  results = loop.train(config, tmp_path)
  lines = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  train = [l for l in lines if l["split"] == "train"]
  assert all(l["iwae5"] >= l["elbo"] for l in train)  # log-mean-exp >= mean (Jensen)
  assert train[-1]["iwae5"] > train[0]["iwae5"] + 150
  assert results["test_nll_iwae50"] < 230, results


def test_iwae_training_settings_are_checked(mnist_dir):
  with pytest.raises(ValueError, match="loss.iwae_k must be >= 1"):
    registry.build(vae_config(mnist_dir, "vae", "tiny", "loss.iwae_k=0"))
  with pytest.raises(ValueError, match="needs loss.beta = 1"):
    registry.build(vae_config(mnist_dir, "hvae", "tiny", "loss.iwae_k=5", "loss.beta=0.5"))
