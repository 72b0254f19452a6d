"""The precision policy, read from the lowered programs: every float32 product behind a
reported or algorithmic value is at HIGHEST precision; network training follows the config.

On CPU the precision setting changes no value, so these tests read StableHLO text
(`jax.jit(f).lower(...).as_text()`) or the modules JAX dumps (`JAX_DUMP_IR_TO`)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import config as config_lib
from gen_jax import data, gaussian, gmm, precision, registry
from gen_jax.families import classifier
from gen_jax.gmm.fit import _fit, chunk_size, chunked, initialize
from gen_jax.metrics import Judge
from gen_jax.train import TrainState, loop, sharding
from tests.conftest import ROOT, run_gen_jax, tiny_config


def products(text: str) -> int:
  return sum(1 for line in text.splitlines() if ("stablehlo.dot_general" in line or "stablehlo.convolution" in line)
             and not line.lstrip().startswith("#loc"))


def assert_exact(lowered_text: str, at_least: int = 1):
  """No loose float32 product, and the program really has products (the check can fail)."""
  assert products(lowered_text) >= at_least, "no products found: the program was not what the test meant"
  assert precision.loose_products(lowered_text) == []


def test_loose_products_reads_dot_general_and_convolution():
  a = jnp.ones((4, 4), jnp.float32)
  image, kernel = jnp.ones((1, 8, 8, 2)), jnp.ones((3, 3, 2, 4))
  conv = lambda x, k: jax.lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
  default = jax.jit(lambda x: x @ x).lower(a).as_text()
  assert len(precision.loose_products(default)) == 1
  assert precision.loose_products(jax.jit(precision.exact(lambda x: x @ x)).lower(a).as_text()) == []
  assert len(precision.loose_products(jax.jit(conv).lower(image, kernel).as_text())) == 1
  assert precision.loose_products(jax.jit(precision.exact(conv)).lower(image, kernel).as_text()) == []
  high = jax.jit(lambda x: jnp.dot(x, x, precision=jax.lax.Precision.HIGH)).lower(a).as_text()
  assert len(precision.loose_products(high)) == 1  # three bfloat16 passes are not float32 either
  with jax.enable_x64(True):  # float64 has no reduced mode
    assert precision.loose_products(jax.jit(lambda x: x @ x).lower(jnp.ones((4, 4), jnp.float64)).as_text()) == []
  assert precision.loose_products(jax.jit(lambda x: x @ x).lower(jnp.ones((4, 4), jnp.int32)).as_text()) == []


def test_exact_wins_over_an_outer_scope_and_is_idempotent():
  a = jnp.ones((4, 4), jnp.float32)
  inner = precision.exact(lambda x: x @ x)
  assert precision.exact(inner) is inner

  def outer(x):
    with precision.scope("bfloat16"):
      return inner(x), x @ x

  text = jax.jit(outer).lower(a).as_text()
  assert products(text) == 2 and len(precision.loose_products(text)) == 1  # only the outer product
  with pytest.raises(ValueError, match="matmul_precision must be one of default, high, highest"):
    precision.scope("double")


def small_chunks(covariance_type, n=200, d=3):
  x = np.random.default_rng(0).normal(size=(n, d))
  return chunked(x, np.ones(n), chunk_size(n, 3, d, covariance_type), jnp.float32)


@pytest.mark.parametrize("covariance_type", gmm.COVARIANCE_TYPES)
def test_gmm_fit_is_full_precision_for_every_covariance_type(covariance_type):
  x_chunks, w_chunks = small_chunks(covariance_type)
  statics = dict(k=3, covariance_type=covariance_type, init="kmeans", tol=1e-3, max_iter=10, reg_covar=1e-6)
  restarts = _fit.lower(jax.random.split(jax.random.key(0), 2), x_chunks, w_chunks, None, **statics)
  assert_exact(restarts.as_text(), at_least=3)
  start = jax.jit(lambda c, w: initialize(jax.random.key(0), c, w, 3, covariance_type, "random", 1e-6))(
      x_chunks, w_chunks)
  warm = _fit.lower(jax.random.split(jax.random.key(0), 1), x_chunks, w_chunks, start, **statics)
  assert_exact(warm.as_text(), at_least=2)


@pytest.mark.parametrize("covariance_type", gmm.COVARIANCE_TYPES)
def test_gmm_log_prob_predict_and_sample_are_full_precision(covariance_type):
  x_chunks, w_chunks = small_chunks(covariance_type)
  params = initialize(jax.random.key(0), x_chunks, w_chunks, 3, covariance_type, "kmeans++", 1e-6)
  x = jnp.asarray(x_chunks[0])
  for fn in (gmm.log_prob, gmm.predict, gmm.predict_proba):
    assert_exact(fn.lower(params, x).as_text())
  if covariance_type in ("full", "tied"):  # diag and spherical samples are elementwise: no product
    assert_exact(gmm.sample.lower(params, jax.random.key(0), 5).as_text())


def test_gaussian_mle_and_log_prob_are_full_precision():
  x = jnp.asarray(np.random.default_rng(0).normal(size=(50, 2)), jnp.float32)
  assert_exact(gaussian.mle.lower(x).as_text())
  assert_exact(gaussian.log_prob.lower(gaussian.mle(x), x).as_text(), at_least=0)  # a triangular solve only


def float32_error(computed, expected) -> float:
  return float(np.max(np.abs(np.asarray(computed, np.float64) - expected) / (np.abs(expected) + 1)))


def test_float32_log_densities_agree_with_float64_to_float32_accuracy():
  """By value, for the products the HLO tests cannot see (custom calls such as triangular
  solves): float32 errors here are ~1e-6; data rounded to TF32's 10-bit mantissa alone give
  2e-3, so on a GPU or TPU this fails if any step fell back to TF32 or bfloat16."""
  rng = np.random.default_rng(0)
  x = rng.normal(size=(500, 6)) @ (np.eye(6) + 0.5 * rng.normal(size=(6, 6))) + 5.0  # correlated, off 0
  with jax.enable_x64(True):
    dist64 = gaussian.mle(jnp.asarray(x))
    expected = np.asarray(gaussian.log_prob(dist64, jnp.asarray(x)))
    mix64 = gmm.fit(x, 3, key=jax.random.key(0), covariance_type="full", max_iter=5).params
    expected_mix = np.asarray(gmm.log_prob(mix64, x))
  dist32 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), dist64)
  mix32 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), mix64)
  assert float32_error(gaussian.log_prob(dist32, jnp.asarray(x, jnp.float32)), expected) < 1e-5
  assert float32_error(gmm.log_prob(mix32, jnp.asarray(x, jnp.float32)), expected_mix) < 1e-5
  assert float32_error(gaussian.mle(jnp.asarray(x, jnp.float32)).covariance, np.asarray(dist64.covariance)) < 1e-5


def test_judge_features_for_the_classifier_fid_are_full_precision(mnist_dir):
  config = config_lib.override(config_lib.load("classifier", "cnn"), [f"data.data_dir={mnist_dir}"])
  model = classifier.make_model(config.net)
  images = jnp.zeros((2, 28, 28, 1), jnp.float32)
  params = model.init({"params": jax.random.key(0)}, images)["params"]
  judge = Judge(config, TrainState.create(params=params, opt_state={}))
  assert_exact(judge._apply.lower(images).as_text(), at_least=5)  # 4 convolutions + 2 dense layers


def lowered_update(name: str, matmul_precision: str, *overrides: str):
  config = config_lib.override(config_lib.load(name, "tiny"), list(overrides))
  family = registry.build(config)
  batch = data.Batches(data.load(config.data)["train"], config.data.batch_size, seed=0).batch(0)
  keys = loop.run_keys(0)
  mesh = sharding.make_mesh(jax.devices()[:1])
  update = loop.compile_update(family.update, mesh, matmul_precision)
  return update.lower(family.init(keys.init, batch), batch, keys.train).as_text()


@pytest.mark.parametrize("name", ["gmm", "gaussian"])
def test_em_and_mle_updates_stay_exact_under_a_fast_training_precision(name):
  assert_exact(lowered_update(name, "bfloat16"))


def test_network_training_follows_config_matmul_precision(mnist_dir):
  fast = lowered_update("classifier", "default", f"data.data_dir={mnist_dir}")
  assert products(fast) > 0 and len(precision.loose_products(fast)) == products(fast)  # XLA's fast default kept
  assert_exact(lowered_update("classifier", "highest", f"data.data_dir={mnist_dir}"))


def test_unknown_matmul_precision_is_refused_before_anything_is_written(mnist_dir, tmp_path):
  with pytest.raises(ValueError, match="matmul_precision must be one of"):
    loop.train(tiny_config(mnist_dir, "matmul_precision=tf32"), tmp_path / "run")
  assert not (tmp_path / "run").exists()


def dumped_programs(*args: str, cwd) -> str:
  """The StableHLO of every program compiled by `gen-jax ARGS`, concatenated."""
  dump = cwd / "ir"
  run_gen_jax(*args, cwd=cwd, env={"JAX_DUMP_IR_TO": str(dump)})
  return "\n".join(p.read_text() for p in sorted(dump.glob("*.mlir")))


FAMILIES = sorted(p.stem for p in (ROOT / "experiments" / "configs").glob("*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILIES)
def test_every_familys_evaluation_is_full_precision(name, mnist_dir, tmp_path):
  """Whatever a family's `evaluate` computes, the engine runs it at full precision: every
  program `gen-jax eval` compiles for a tiny run of each configured model is exact."""
  config = config_lib.override(config_lib.load(name, "tiny"), [f"data.data_dir={mnist_dir}", "train.num_steps=2",
                                                                  "train.sample_every=0"])  # no sample grid
  loop.train(config, tmp_path / "run")
  text = dumped_programs("eval", "--workdir", str(tmp_path / "run"), cwd=tmp_path)
  assert "module @" in text
  assert_exact(text, at_least=0)  # the gaussian's log-density is a triangular solve: no product


@pytest.mark.slow
def test_judged_evaluation_is_full_precision(mnist_dir, tiny_run, tmp_path):
  """`gen-jax eval --judge`: the samples' log-likelihood, the draws and the judge's features."""
  config = config_lib.override(config_lib.load("gmm", "mnist"), [
      f"data.data_dir={mnist_dir}", "train.num_steps=2", "train.sample_every=0", "train.progress_bar=False"])
  loop.train(config, tmp_path / "run")
  text = dumped_programs("eval", "--workdir", str(tmp_path / "run"), "--judge", str(tiny_run), "--num", "100",
                         cwd=tmp_path)
  assert_exact(text, at_least=3)
