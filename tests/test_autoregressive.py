"""NADE and MADE: exact normalisation, no peeking at later pixels, the running sum against the
naive formula, samples that follow the model; every autoregressive family (NADE, MADE, PixelCNN,
gated PixelCNN, PixelRNN): learning on real MNIST, the CLI, bad settings."""

import itertools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import cli, registry
from gen_jax import config as config_lib
from gen_jax.autoregressive import made, nade
from gen_jax.train import loop
from tests.conftest import real_mnist


def small(model, *overrides):
  return config_lib.override(config_lib.load(model, "tiny"), list(overrides))


MODELS = {  # name: (model, config overrides) for D = 10 pixels
    "nade": ("nade", ["net.hidden=5"]),
    "nade_order_agnostic": ("nade", ["net.hidden=5", "net.order_agnostic=True"]),
    "made_one_mask": ("made", ["net.widths=(7,)", "net.num_masks=1", "eval.num_masks=1",
                               "net.order_agnostic=False"]),
    "made_deep_4_masks": ("made", ["net.widths=(9, 8)", "net.num_masks=4", "eval.num_masks=4",
                                   "net.order_agnostic=True"]),
    "made_no_hidden": ("made", ["net.widths=()", "net.num_masks=2", "eval.num_masks=2"]),
}
D = 10
ALL_X = jnp.asarray(list(itertools.product([0.0, 1.0], repeat=D)), jnp.float32)  # [1024, D]: every image


def built(case, seed=0):
  name, overrides = MODELS[case]
  model = {"nade": nade.make, "made": made.make}[name](small(name, *overrides), (1, D, 1))
  params = model.init(jax.random.key(seed), ALL_X[:1])
  # larger weights than at initialisation, so that the conditionals are far from 1/2
  return model, jax.tree.map(lambda p: 3.0 * p + 0.3 * jax.random.normal(jax.random.key(seed + 1), p.shape), params)


@pytest.mark.parametrize("case", sorted(MODELS))
def test_probabilities_of_all_2_to_the_d_images_sum_to_one(case):
  model, params = built(case)
  test_p = jnp.exp(model.test_log_prob(params, ALL_X))
  assert float(jnp.sum(test_p)) == pytest.approx(1.0, abs=1e-5)
  assert float(jnp.max(test_p)) > 4 / 2 ** D  # not the uniform distribution
  for step in range(3):  # each training ordering / mask is normalised too
    train_p = jnp.exp(model.train_log_prob(params, ALL_X, key=jax.random.key(step)))
    if "order_agnostic" in case:  # one ordering per example: take the first example's for all
      order = jnp.tile(jax.random.permutation(jax.random.key(step), D), (len(ALL_X), 1))
      logits = nade.NADE(D, 5).apply({"params": params}, ALL_X, order)
      train_p = jnp.exp(jnp.sum(ALL_X * logits - jax.nn.softplus(logits), -1))
    assert float(jnp.sum(train_p)) == pytest.approx(1.0, abs=1e-5)


def dependence(logits_fn, x):
  """|∂ logit_d / ∂ x_j| [D, D] at x (rows d: outputs, columns j: inputs)."""
  return np.abs(np.asarray(jax.jacobian(logits_fn)(x)))


def test_made_outputs_never_see_their_own_or_later_pixels():
  for index in range(3):
    m = made.connectivity(jax.random.fold_in(jax.random.key(0), index), D, (20, 20), True)
    model = made.MADE(D, (20, 20))
    params = model.init(jax.random.key(1), ALL_X[:1], made.masks(m))["params"]
    order = np.asarray(m[0])  # m^0(d): the position of pixel d in the ordering
    J = dependence(lambda x: model.apply({"params": params}, x[None], made.masks(m))[0], jnp.full((D,), 0.5))
    allowed = order[None, :] < order[:, None]  # logit d may depend on x_j only if j comes before d
    assert np.all(J[~allowed] == 0.0), (index, J)
    assert np.count_nonzero(J[allowed]) > allowed.sum() // 2  # and does depend on most of them


def test_nade_outputs_never_see_their_own_or_later_pixels():
  model = nade.NADE(D, 5)
  params = model.init(jax.random.key(0), ALL_X[:1])["params"]
  order = jax.random.permutation(jax.random.key(3), D)[None]
  for o in (None, order):
    J = dependence(lambda x: model.apply({"params": params}, x[None], o)[0], jnp.full((D,), 0.5))
    rank = np.arange(D) if o is None else np.argsort(np.asarray(o[0]))  # rank[d]: position of pixel d
    allowed = rank[None, :] < rank[:, None]
    assert np.all(J[~allowed] == 0.0) and np.all(J[allowed] > 0.0)


def test_nade_running_sum_equals_the_papers_formula():
  model = nade.NADE(D, 5)
  params = model.init(jax.random.key(0), ALL_X[:1])["params"]
  W, c, V, b = (np.asarray(params[k], np.float64) for k in ("W", "c", "V", "b"))
  sigmoid = lambda a: 1 / (1 + np.exp(-a))
  x = np.asarray(ALL_X[37])
  naive = [b[d] + V[d] @ sigmoid(c + W[:d].T @ x[:d]) for d in range(D)]  # eq. (2)-(3), one network per d
  np.testing.assert_allclose(np.asarray(model.apply({"params": params}, ALL_X[37:38]))[0], naive, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", ["nade", "made_deep_4_masks"])
def test_samples_follow_the_models_probabilities(case):
  model, params = built(case)
  u = jax.random.uniform(jax.random.key(5), (40_000, D))
  x = np.asarray(jax.jit(model.sample)(params, u))
  codes = (x * 2 ** np.arange(D)[::-1]).sum(1).astype(int)  # index into ALL_X (itertools order)
  empirical = np.bincount(codes, minlength=2 ** D) / len(x)
  if case.startswith("made"):  # the sampler uses mask 0 alone
    p = np.exp(np.asarray(made.make(small("made", *MODELS[case][1], "eval.num_masks=1"),
                                    (1, D, 1)).test_log_prob(params, ALL_X)))
  else:
    p = np.exp(np.asarray(model.test_log_prob(params, ALL_X)))
  assert np.abs(empirical - p).max() < 4 * np.sqrt(p.max() / len(x)) + 1e-3, np.abs(empirical - p).max()


SAMPLED_IN_TRAINING = ("nade", "made")  # the image models' 64-sample grid costs 10-35 s: drawn by the CLI test


@pytest.fixture(scope="module", params=["nade", "made", "pixelcnn", "gated_pixelcnn", "pixelrnn"])
def trained(request, mnist_dir, tmp_path_factory):
  workdir = tmp_path_factory.mktemp(request.param)
  grids = [] if request.param in SAMPLED_IN_TRAINING else ["train.sample_every=0"]
  config = small(request.param, f"data.data_dir={mnist_dir}", *grids)
  return config, workdir, loop.train(config, workdir)


@real_mnist
def test_tiny_configs_learn_real_mnist(trained):
  config, workdir, results = trained
  lines = [json.loads(l) for l in (workdir / "metrics.jsonl").read_text().splitlines()]
  first = next(l for l in lines if l["split"] == "train")
  assert first["nll"] > 400  # ~ 543 nats (784 log 2) at initialisation
  assert results["test_nll"] < 250, results  # 80 steps on 1,000 images
  assert results["test_bits_per_dim"] == pytest.approx(results["test_nll"] / (784 * np.log(2)))
  assert (workdir / "loss_curves.png").is_file()
  assert (workdir / "samples_0000080.png").is_file() == (config.model in SAMPLED_IN_TRAINING)


def test_samples_do_not_depend_on_num_and_are_binary(trained):
  _, workdir, _ = trained
  _, family, state = loop.restore_run(workdir)
  one, five = family.draw(state, jax.random.key(2), 1), family.draw(state, jax.random.key(2), 5)
  assert five.shape == (5, 28, 28, 1) and five.dtype == np.uint8 and set(np.unique(five)) <= {0, 255}
  np.testing.assert_array_equal(one[0], five[0])
  assert not np.array_equal(five[0], five[1])


def test_cli_samples_and_evaluates(trained, tmp_path, capsys):
  config, workdir, results = trained
  assert cli.main(["sample", "--workdir", str(workdir), "--num", "3", "--seed", "1", "--out", str(tmp_path / "s.npz")]) == 0
  assert np.load(tmp_path / "s.npz")["images"].shape == (3, 28, 28, 1) and (tmp_path / "s.png").is_file()
  capsys.readouterr()
  assert cli.main(["eval", "--workdir", str(workdir), "--data-dir", config.data.data_dir]) == 0
  out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
  assert out["test_nll"] == pytest.approx(results["test_nll"], rel=1e-6)  # exact: no sampling in the NLL


@pytest.mark.parametrize("model, override, message", [
    ("nade", "net.hidden=0", "net.hidden must be a positive integer"),
    ("made", "net.num_masks=0", "net.num_masks must be a positive integer"),
    ("made", "net.widths=(64, -1)", "net.widths must be a positive integer"),
    ("made", "eval.num_masks=0", "eval.num_masks must be a positive integer"),
    ("nade", "data.binarize=fixed", "data.binarize must be 'dynamic' or 'none'"),
])
def test_bad_settings_are_refused_by_name(model, override, message):
  with pytest.raises(ValueError, match=message):
    registry.build(small(model, override))


def test_images_of_the_wrong_rank_are_refused():
  family = registry.build(small("nade"))
  with pytest.raises(ValueError, match=r"nade expects images \[B, H, W, C\] in \[0, 1\]"):
    family.init(jax.random.key(0), {"image": np.zeros((2, 784), np.float32)})


def test_grey_images_without_binarization_are_refused():
  family = registry.build(small("pixelcnn", "data.binarize=none"))
  grey = np.full((2, 28, 28, 1), 0.5, np.float32)
  with pytest.raises(ValueError, match=r"binary pixels: with data.binarize=none the images must be 0 or 1, "
                                       r"got values in \[0.5, 0.5\]"):
    family.init(jax.random.key(0), {"image": grey, "label": np.zeros(2, np.int32)})
  family.init(jax.random.key(0), {"image": np.round(grey + 0.1), "label": np.zeros(2, np.int32)})  # 0/1: accepted
