"""Across processes: exact resume and reproducibility, through the real command line."""

import json

import chex
import jax
import numpy as np
import pytest

from gen_jax.train import loop
from tests.conftest import run_gen_jax

N, K = 40, 20  # the interrupted run stops at K (inside epoch 0) and resumes across the epoch boundary at 32




def train_tiny(workdir, mnist_dir, *overrides):
  return run_gen_jax("train", "classifier", "--config", "tiny", "--data-dir", str(mnist_dir), "--workdir", str(workdir),
                 "--config.train.log_every=1", *overrides, cwd=workdir.parent)


def train_lines(workdir):
  lines = [json.loads(l) for l in (workdir / "metrics.jsonl").read_text().splitlines()]
  return [{k: v for k, v in l.items() if k != "examples_per_sec"} for l in lines]


@pytest.fixture(scope="module")
def runs(mnist_dir, tmp_path_factory):
  root = tmp_path_factory.mktemp("resume")
  train_tiny(root / "straight", mnist_dir, f"--config.train.num_steps={N}")
  train_tiny(root / "again", mnist_dir, f"--config.train.num_steps={N}")
  train_tiny(root / "seed1", mnist_dir, f"--config.train.num_steps={N}", "--config.seed=1")
  train_tiny(root / "interrupted", mnist_dir, f"--config.train.num_steps={K}")
  train_tiny(root / "interrupted", mnist_dir, f"--config.train.num_steps={N}")
  return root


def test_resume_is_bitwise_exact(runs):
  _, _, straight = loop.restore_run(runs / "straight")
  _, _, resumed = loop.restore_run(runs / "interrupted")
  assert int(straight.step) == int(resumed.step) == N
  chex.assert_trees_all_equal(straight.params, resumed.params)
  chex.assert_trees_all_equal(straight.opt_state, resumed.opt_state)


def test_step_after_resume_is_saved_step_plus_one(runs):
  lines = train_lines(runs / "interrupted")
  first_eval = next(i for i, l in enumerate(lines) if l["split"] == "eval")
  assert lines[first_eval]["step"] == K
  assert lines[first_eval + 1]["step"] == K + 1
  straight = {l["step"]: l for l in train_lines(runs / "straight") if l["split"] == "train"}
  for line in lines[first_eval + 1:]:
    if line["split"] == "train":  # the resumed run sees the same batches and keys
      assert line == straight[line["step"]]


def test_same_seed_same_numbers_in_two_processes(runs):
  assert train_lines(runs / "straight") == train_lines(runs / "again")
  _, _, a = loop.restore_run(runs / "straight")
  _, _, b = loop.restore_run(runs / "again")
  chex.assert_trees_all_equal(a.params, b.params)


def test_different_seed_differs(runs):
  _, _, a = loop.restore_run(runs / "straight")
  _, _, c = loop.restore_run(runs / "seed1")
  assert not all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(c.params)))
  assert train_lines(runs / "straight")[0]["loss"] != train_lines(runs / "seed1")[0]["loss"]
