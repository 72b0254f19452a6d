"""The gaussian and gmm families in the engine and on the command line: closed-form MLE,
Old Faithful through `gen-jax train gmm`, resume, and sample reproducibility across processes."""

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import config as config_lib
from gen_jax import gaussian
from gen_jax.train import loop
from tests.conftest import DLFS5, needs_dlfs5, run_gen_jax




def test_normal_mle_log_prob_and_sampling_are_closed_form():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(500, 2)) @ np.array([[2.0, 0.0], [0.6, 0.5]]) + [170.0, 60.0]
  with jax.enable_x64(True):
    dist = gaussian.mle(jnp.asarray(x))
    np.testing.assert_allclose(dist.mean, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(dist.covariance, np.cov(x.T, bias=True), rtol=1e-10)
    cov = np.cov(x.T, bias=True)
    diff = x[:3] - x.mean(0)
    expected = -0.5 * np.einsum("nd,de,ne->n", diff, np.linalg.inv(cov), diff) - 0.5 * np.log(np.linalg.det(2 * np.pi * cov))
    np.testing.assert_allclose(gaussian.log_prob(dist, jnp.asarray(x[:3])), expected, rtol=1e-10)
    draws = gaussian.sample(dist, jax.random.key(0), 20000)
    np.testing.assert_allclose(np.cov(np.asarray(draws).T), cov, rtol=0.05)
    np.testing.assert_array_equal(gaussian.sample(dist, jax.random.key(0), 5), draws[:5])


@needs_dlfs5
def test_train_gaussian_on_height_files(tmp_path):
  readme = {"height.txt": ([172.7025], -2.99382), "height_weight.txt": ([172.7025, 57.6422], -5.93267)}
  for name, (mean, log_likelihood) in readme.items():
    out = run_gen_jax("train", "gaussian", "--data", str(DLFS5 / name), "--workdir", str(tmp_path / name), cwd=tmp_path)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    x = np.loadtxt(DLFS5 / name, ndmin=2)
    params = np.load(tmp_path / name / "params.npz")
    np.testing.assert_allclose(params["mean"], x.mean(0), rtol=1e-6)
    dims = len(mean)
    np.testing.assert_allclose(params["covariance"], np.cov(x.T, bias=True).reshape(dims, dims), rtol=1e-3)
    np.testing.assert_allclose(params["mean"], mean, atol=5e-5)  # the README's figures
    assert result["mean_log_likelihood"] == pytest.approx(log_likelihood, abs=5e-6)
    assert result["num_points"] == 25000 and (tmp_path / name / "density.png").stat().st_size > 1000
  sigma = float(np.sqrt(np.load(tmp_path / "height.txt" / "params.npz")["covariance"][0, 0]))
  assert sigma == pytest.approx(4.8302, abs=5e-5)


@needs_dlfs5
def test_train_gmm_old_faithful_prints_converged_log_likelihood(tmp_path):
  out = run_gen_jax("train", "gmm", "--data", str(DLFS5 / "old_faithful.txt"), "--workdir", str(tmp_path / "of"), cwd=tmp_path)
  result = json.loads(out.stdout.strip().splitlines()[-1])
  assert result["mean_log_likelihood"] == pytest.approx(-4.15538, abs=5e-6)  # the README's figure
  assert result["iterations"] == 6  # stopped on convergence, not max_iter
  for name in ("density.png", "loss_curves.png", "params.npz", "params.json", "eval.json"):
    assert (tmp_path / "of" / name).is_file()
  curve = [json.loads(l)["log_likelihood"] for l in (tmp_path / "of" / "metrics.jsonl").read_text().splitlines()
           if json.loads(l).get("split") == "train"]
  assert np.all(np.diff(curve) >= -1e-5)  # EM climbs


def test_gmm_family_matches_fit_and_resumes_exactly(tmp_path):
  from gen_jax import gmm

  config = config_lib.override(config_lib.load("gmm", "tiny"), ["tol=0.0", "train.num_steps=12"])
  straight = loop.train(config, tmp_path / "straight")
  loop.train(config_lib.override(config, ["train.num_steps=5"]), tmp_path / "resumed")
  resumed = loop.train(config, tmp_path / "resumed")
  assert straight == resumed and straight["step"] == 12
  _, _, a = loop.restore_run(tmp_path / "straight")
  _, _, b = loop.restore_run(tmp_path / "resumed")
  chex.assert_trees_all_equal(a.params, b.params)
  points = np.asarray(config_lib_data(config)["x"])
  direct = gmm.fit(points, 3, key=jax.random.key(0), tol=0.0, max_iter=12,
                   init_params=jax.tree.map(np.asarray, restore_initial(config)))
  np.testing.assert_allclose(np.asarray(a.params.means), np.asarray(direct.params.means), rtol=1e-4, atol=1e-4)


def config_lib_data(config):
  from gen_jax import data

  split = data.load(config.data)["train"]
  return {"x": split["x"][split["weight"] > 0]}


def restore_initial(config):
  from gen_jax import data, registry

  family = registry.build(config)
  split = data.load(config.data)["train"]
  return family.init(loop.run_keys(config.seed).init, split).params


def test_samples_are_identical_across_processes_and_differ_by_seed(tmp_path):
  for run in ("a", "b"):
    run_gen_jax("train", "gmm", "--config", "tiny", "--workdir", str(tmp_path / run), cwd=tmp_path)
  files = {}
  for run, seed in (("a", 0), ("b", 0), ("a", 1)):
    out = tmp_path / f"{run}{seed}.npz"
    run_gen_jax("sample", "--workdir", str(tmp_path / run), "--num", "50", "--seed", str(seed), "--out", str(out), cwd=tmp_path)
    files[(run, seed)] = np.load(out)["samples"]
    assert out.with_suffix(".png").is_file()
  assert files[("a", 0)].shape == (50, 2)
  np.testing.assert_array_equal(files[("a", 0)], files[("b", 0)])
  assert not np.array_equal(files[("a", 0)], files[("a", 1)])
  assert json.loads((tmp_path / "a" / "eval.json").read_text()) == json.loads((tmp_path / "b" / "eval.json").read_text())


def test_gmm_on_mnist_pixels_samples_uint8_images(mnist_dir, tmp_path):
  config = config_lib.override(config_lib.load("gmm", "mnist"), [
      f"data.data_dir={mnist_dir}", "train.num_steps=3", "train.sample_every=3", "train.progress_bar=False"])
  results = loop.train(config, tmp_path)
  config_, family, state = loop.restore_run(tmp_path)
  images = family.draw(state, jax.random.key(0), 8)
  assert images.shape == (8, 28, 28, 1) and images.dtype == np.uint8
  assert (tmp_path / "samples_0000003.png").is_file() and np.isfinite(results["mean_log_likelihood"])


def test_bad_data_sources_are_clear(tmp_path):
  from gen_jax.cli import main

  assert main(["train", "gmm", "--data", str(tmp_path / "missing.txt"), "--workdir", str(tmp_path / "w")]) == 2
  bad = tmp_path / "bad.txt"
  bad.write_text("1 2\n3 x\n")
  assert main(["train", "gaussian", "--data", str(bad), "--workdir", str(tmp_path / "w")]) == 2
  assert main(["train", "gmm", "--config", "tiny", "--workdir", str(tmp_path / "w"), "--config.n_components=0"]) == 2
  assert main(["train", "gmm", "--workdir", str(tmp_path / "w")]) == 2  # no --data


def test_em_stops_at_convergence_whatever_the_logging_interval(tmp_path):
  """`converged` is read at every step, not only on logging steps."""
  base = config_lib.load("gmm", "tiny")
  every = loop.train(base, tmp_path / "every")
  assert every["step"] < base.train.num_steps  # it did converge early
  sparse = loop.train(config_lib.override(base, ["train.log_every=7"]), tmp_path / "sparse")
  assert sparse == every
