"""Data layer: IDX parsing, deterministic batching, scaling, binarization, missing data."""

import time

import jax
import numpy as np
import pytest

from gen_jax import data
from gen_jax.data import mnist as mnist_lib
from tests.conftest import DLFS5, HAVE_REAL_MNIST, REQUIRE_DATA, SHARED_MNIST, real_mnist


@pytest.mark.skipif(not REQUIRE_DATA, reason="only where GEN_JAX_REQUIRE_DATA=1 (CI): elsewhere data tests skip")
def test_required_data_is_present():
  """In CI a missing ../shared/data folder is a failure, not a row of skipped tests."""
  assert HAVE_REAL_MNIST, f"GEN_JAX_REQUIRE_DATA=1 but no MNIST files in {SHARED_MNIST}"
  assert DLFS5.is_dir(), f"GEN_JAX_REQUIRE_DATA=1 but {DLFS5} is missing"


def test_idx_round_trip(tmp_path):
  rng = np.random.default_rng(0)
  arrays = {s: {"image": rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8),
                "label": rng.integers(0, 10, n).astype(np.int32)} for s, n in (("train", 7), ("test", 3))}
  mnist_lib.write_idx(tmp_path, arrays)
  loaded = mnist_lib.load_from_folder(tmp_path)
  for split in arrays:
    np.testing.assert_array_equal(loaded[split]["image"], arrays[split]["image"])
    np.testing.assert_array_equal(loaded[split]["label"], arrays[split]["label"])


def test_idx_rejects_wrong_magic(tmp_path):
  path = tmp_path / "x-idx3-ubyte"
  path.write_bytes((2049).to_bytes(4, "big") + bytes(12))
  with pytest.raises(ValueError, match="magic 2049, expected 2051"):
    mnist_lib.read_idx(path, "image")


@real_mnist
def test_real_mnist_shapes_and_content():
  d = data.load_mnist(SHARED_MNIST)
  assert d["train"]["image"].shape == (60000, 28, 28, 1) and d["train"]["image"].dtype == np.uint8
  assert d["test"]["label"].shape == (10000,)
  assert d["train"]["label"][:5].tolist() == [5, 0, 4, 1, 9]  # the well-known first labels
  assert np.bincount(d["test"]["label"]).tolist()[:3] == [980, 1135, 1032]


def test_missing_folder_fails_fast_naming_both_ways(tmp_path):
  start = time.perf_counter()
  with pytest.raises(data.DataNotFoundError) as info:
    data.load_mnist(tmp_path / "nowhere")
  assert time.perf_counter() - start < 10
  assert "--data-dir" in str(info.value) and "GEN_JAX_DATA_DIR" in str(info.value) and "TFDS" in str(info.value)


def test_folder_without_files_lists_them(tmp_path):
  with pytest.raises(data.DataNotFoundError, match="t10k-labels-idx1-ubyte"):
    data.load_mnist(tmp_path)


def test_tfds_fallback_offline_fails_fast_without_network(tmp_path, monkeypatch):
  pytest.importorskip("tensorflow_datasets", reason="the TFDS fallback needs tensorflow-datasets installed")
  monkeypatch.delenv("GEN_JAX_DATA_DIR", raising=False)
  monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
  monkeypatch.delenv("GEN_JAX_OFFLINE")
  calls = []
  monkeypatch.setattr(mnist_lib, "_network_reachable", lambda: calls.append(1) or False)
  start = time.perf_counter()
  with pytest.raises(data.DataNotFoundError, match="network is unreachable"):
    data.load_mnist(None)
  assert time.perf_counter() - start < 10 and calls == [1]


def test_offline_probe_never_connects(monkeypatch):
  monkeypatch.setenv("GEN_JAX_OFFLINE", "1")
  assert mnist_lib._network_reachable() is False  # the autouse fixture fails any connection


def test_batches_are_a_function_of_seed_and_step():
  arrays = {"x": np.arange(100), "y": np.arange(100) * 2}
  a = data.Batches(arrays, 16, seed=3)
  b = data.Batches(arrays, 16, seed=3)
  assert a.steps_per_epoch == 6
  for step in (0, 5, 6, 13, 40):  # out of order: no hidden iterator state
    np.testing.assert_array_equal(a.batch(step)["x"], b.batch(step)["x"])
  np.testing.assert_array_equal(a.batch(2)["y"], 2 * a.batch(2)["x"])
  epoch = np.concatenate([a.batch(s)["x"] for s in range(6)])
  assert len(np.unique(epoch)) == 96  # each example at most once per epoch
  assert not np.array_equal(a.batch(0)["x"], a.batch(6)["x"])  # epochs reshuffle
  assert not np.array_equal(a.batch(0)["x"], data.Batches(arrays, 16, seed=4).batch(0)["x"])
  it = a.iterate(start_step=7)
  np.testing.assert_array_equal(next(it)["x"], a.batch(7)["x"])
  np.testing.assert_array_equal(next(it)["x"], a.batch(8)["x"])


def test_batches_reject_bad_sizes():
  with pytest.raises(ValueError, match="equal lengths"):
    data.Batches({"x": np.zeros(4), "y": np.zeros(5)}, 2, seed=0)
  with pytest.raises(ValueError, match="batch_size must be in"):
    data.Batches({"x": np.zeros(4)}, 5, seed=0)


def test_scaling_and_binarization():
  pixels = np.array([0, 51, 255], np.uint8)
  np.testing.assert_allclose(data.scale_images(pixels, "unit"), [0, 0.2, 1])
  np.testing.assert_allclose(data.scale_images(pixels, "symmetric"), [-1, -0.6, 1], atol=1e-6)
  with pytest.raises(ValueError, match="symmetric"):
    data.scale_images(pixels, "bad")
  x = np.full((20000,), 0.3, np.float32)
  b1 = data.binarize(x, key=jax.random.key(0))
  assert set(np.unique(b1)) <= {0.0, 1.0} and abs(float(b1.mean()) - 0.3) < 0.02
  np.testing.assert_array_equal(b1, data.binarize(x, key=jax.random.key(0)))
  assert not np.array_equal(b1, data.binarize(x, key=jax.random.key(1)))
  f = data.fixed_binarized(x, seed=0)
  np.testing.assert_array_equal(f, data.fixed_binarized(x, seed=0))
  np.testing.assert_array_equal(data.fixed_binarized(np.array([0.0, 1.0])), [0.0, 1.0])


@pytest.mark.parametrize("name", ["gaussian_mixture", "two_moons", "rings"])
def test_toy_data(name):
  x, labels = data.load_toy(name, 500, seed=0)
  assert x.shape == (500, 2) and x.dtype == np.float32 and labels.shape == (500,)
  np.testing.assert_array_equal(x, data.load_toy(name, 500, seed=0)[0])
  if name == "rings":  # radius of ring k is k + 1
    radius = np.linalg.norm(x, axis=1)
    np.testing.assert_allclose(radius, labels + 1.0, atol=0.3)
  with pytest.raises(ValueError, match="valid: gaussian_mixture"):
    data.load_toy("spiral", 10, seed=0)


def test_batched_apply_pads_and_trims():
  calls = []

  def fn(chunk):
    calls.append(chunk["x"].shape)
    return {"y": chunk["x"] * 2}

  out = data.batched_apply(fn, {"x": np.arange(10)}, 4)
  np.testing.assert_array_equal(out["y"], np.arange(10) * 2)
  assert calls == [(4,), (4,), (4,)]
