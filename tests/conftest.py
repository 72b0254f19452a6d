"""Shared fixtures: strict dtype promotion, the MNIST folder, a tiny trained run.

MNIST comes from `../shared/data/mnist` (or GEN_JAX_TEST_MNIST) when it exists; otherwise
TFDS's mock data are written as IDX files into a temporary folder. Tests that need the real
files of `../shared/data` skip without them, except where GEN_JAX_REQUIRE_DATA=1 (CI sets it):
there a missing folder fails the run. No test touches the network.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import pytest

jax.config.update("jax_numpy_dtype_promotion", "strict")
os.environ.setdefault("GEN_JAX_OFFLINE", "1")  # the TFDS fallback never probes the network
# On a GPU, JAX would take 75% of its memory in this process, leaving too little for the
# command-line tests' subprocesses; allocate on demand instead (no effect on CPU).
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
SHARED_MNIST = Path(os.environ.get("GEN_JAX_TEST_MNIST", SHARED_DATA / "mnist"))
DLFS5 = SHARED_DATA / "dlfs5"
HAVE_REAL_MNIST = (SHARED_MNIST / "train-images-idx3-ubyte.gz").exists()
REQUIRE_DATA = os.environ.get("GEN_JAX_REQUIRE_DATA") == "1"


def needs(present: bool, what: str):
  """Skip unless `what` is there; under GEN_JAX_REQUIRE_DATA=1 run anyway (and fail)."""
  return pytest.mark.skipif(not present and not REQUIRE_DATA, reason=f"needs {what}")


real_mnist = needs(HAVE_REAL_MNIST, "the real MNIST files in ../shared/data/mnist")
needs_dlfs5 = needs(DLFS5.is_dir(), "../shared/data/dlfs5")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
  """Any attempt to open a connection fails the test."""

  def refuse(*args, **kwargs):
    raise AssertionError(f"a test tried to open a network connection: {args}")

  monkeypatch.setattr(socket, "create_connection", refuse)
  monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory) -> Path:
  if HAVE_REAL_MNIST:
    return SHARED_MNIST
  import numpy as np
  import tensorflow_datasets as tfds

  from gen_jax.data.mnist import write_idx

  folder = tmp_path_factory.mktemp("mock_mnist")
  data = {}
  with tfds.testing.mock_data(num_examples=4096, seed=0):
    for split in ("train", "test"):
      source = tfds.data_source("mnist", split=split)
      records = [source[i] for i in range(len(source))]
      data[split] = {"image": np.stack([r["image"] for r in records]),
                     "label": np.asarray([r["label"] for r in records]) % 10}
  write_idx(folder, data)
  return folder


def tiny_config(mnist_dir, *overrides: str):
  from gen_jax import config as config_lib

  config = config_lib.load("classifier", "tiny")
  return config_lib.override(config, [f"data.data_dir={mnist_dir}", *overrides])


@pytest.fixture(scope="session")
def tiny_run(mnist_dir, tmp_path_factory) -> Path:
  """A tiny classifier trained once (in-process) for the tests that need a finished run."""
  from gen_jax.train import loop

  workdir = tmp_path_factory.mktemp("tiny_run")
  loop.train(tiny_config(mnist_dir), workdir)
  return workdir


def run_gen_jax(*args: str, cwd, env: dict | None = None) -> subprocess.CompletedProcess:
  """`gen-jax ARGS` in a fresh process (offline, `env` added); fails the test with its stderr if it fails."""
  env = {**os.environ, "GEN_JAX_OFFLINE": "1", **(env or {})}
  proc = subprocess.run([sys.executable, "-m", "gen_jax.cli", *args], cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc
