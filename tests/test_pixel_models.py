"""PixelCNN, the gated PixelCNN and PixelRNN (Row LSTM, Diagonal BiLSTM): masks that never leak,
the plain model's blind spot against the full field of the gated model and the Diagonal BiLSTM,
exact normalisation, compiled = step-by-step = cached sampling, samples independent of batch
size, bad settings."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import config as config_lib
from gen_jax import registry
from gen_jax.autoregressive import pixelcnn
from gen_jax.families.autoregressive import MODELS, uniforms

CNN = ["net.features=8", "net.num_blocks=2", "net.num_layers=4", "net.first_kernel=3", "net.out_features=8"]
RNN = ["net.units=6", "net.num_layers=2", "net.first_kernel=3", "net.out_features=8"]
CASES = {  # name: (family, config overrides)
    "pixelcnn": ("pixelcnn", CNN),
    "gated": ("gated_pixelcnn", CNN + ["net.num_classes=0"]),
    "gated_conditional": ("gated_pixelcnn", CNN + ["net.num_classes=3"]),
    "row_lstm": ("pixelrnn", RNN + ["net.layer=row_lstm"]),
    "diagonal_bilstm": ("pixelrnn", RNN + ["net.layer=diagonal_bilstm"]),
}


def built(case, shape, seed=0, sharpen=True):
  family, overrides = CASES[case]
  model = MODELS[family](config_lib.override(config_lib.load(family, "tiny"), overrides), shape)
  labels = jnp.asarray([1]) if model.conditional else None
  params = model.init(jax.random.key(seed), jnp.zeros((1, int(np.prod(shape)))), **kw(model, labels))
  if not sharpen:
    return model, params
  # larger weights than at initialisation, so that the conditionals are far from 1/2
  return model, jax.tree.map(lambda p: 2.0 * p + 0.3 * jax.random.normal(jax.random.key(seed + 1), p.shape), params)


def kw(model, labels):
  return {"labels": labels} if model.conditional else {}


def dependence(model, params, shape):
  """Σ |∂ logit_d / ∂ x_j| [D, D] over 3 random binary images (d, j in raster-then-channel
  order); 3, so that a ReLU that happens to be shut at one image hides nothing."""
  D = int(np.prod(shape))
  jacobian = jax.jacrev(lambda z: model.logits(params, z[None], **kw(model, jnp.asarray([2])))[0])
  xs = jax.random.bernoulli(jax.random.key(7), 0.5, (3, D)).astype(jnp.float32)
  return np.abs(np.asarray(jax.jit(jax.vmap(jacobian))(xs))).sum(0)  # jit: 20× faster than op by op


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("shape", [(4, 5, 1), (3, 4, 2)])
def test_no_logit_sees_its_own_or_a_later_pixel(case, shape):
  model, params = built(case, shape)
  J = dependence(model, params, shape)
  later = np.triu(np.ones_like(J, bool))  # j >= d
  assert np.all(J[later] == 0.0), np.argwhere(J * later)
  assert np.count_nonzero(J[~later]) > (~later).sum() // 2  # and it does see most earlier pixels


@pytest.mark.parametrize("full_field", ["gated", "diagonal_bilstm"])
def test_the_plain_model_has_a_blind_spot_the_gated_model_and_the_diagonal_bilstm_none(full_field):
  H, W = 4, 5
  pixel = lambda i, j: i * W + j
  plain, gated = (dependence(*built(case, (H, W, 1)), (H, W, 1)) for case in ("pixelcnn", full_field))
  # stacked 3×3 mask-B layers never reach two columns right of the pixel above: (1, 3) for (2, 1)
  assert plain[pixel(2, 1), pixel(1, 3)] == 0.0 and plain[pixel(2, 1), pixel(1, 2)] > 0.0
  blind = [(d, j) for d in range(H * W) for j in range(d) if plain[d, j] == 0.0]
  assert len(blind) > 10
  # the gated model's vertical stack covers every row above, its horizontal stack the row's left;
  # the Diagonal BiLSTM's two diagonal scans cover the same
  earlier = np.tril(np.ones_like(gated, bool), -1)
  assert np.all(gated[earlier] > 0.0), [(d, j) for d, j in np.argwhere(earlier & (gated == 0))]


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("shape", [(2, 5, 1), (1, 5, 2)])
def test_probabilities_of_all_2_to_the_10_images_sum_to_one(case, shape):
  model, params = built(case, shape)
  every = jnp.asarray(list(itertools.product([0.0, 1.0], repeat=10)), jnp.float32)  # [1024, 10]
  for label in ((0, 2) if model.conditional else (None,)):
    labels = None if label is None else jnp.full((len(every),), label)
    p = jnp.exp(model.test_log_prob(params, every, **kw(model, labels)))
    assert float(jnp.sum(p)) == pytest.approx(1.0, abs=1e-5)
    assert float(jnp.max(p)) > 10 / 2 ** 10  # far from uniform


def test_the_row_lstm_sees_a_triangle_above_the_pixel():
  H, W = 4, 5
  J = dependence(*built("row_lstm", (H, W, 1)), (H, W, 1))
  pixel = lambda i, j: i * W + j
  # one column further right per row up (the width-3 K_ss), none of the row above beyond j + 1
  for row, last in ((2, 1), (1, 2), (0, 3)):
    assert J[pixel(3, 0), pixel(row, last)] > 0 and np.all(J[pixel(3, 0), pixel(row, last + 1):pixel(row + 1, 0)] == 0)
  assert J[pixel(3, 2), pixel(3, 1)] > 0 and J[pixel(3, 2), pixel(0, 4)] > 0


@pytest.mark.parametrize("case", ["pixelcnn", "gated_conditional", "row_lstm"])
def test_compiled_sampling_equals_step_by_step_and_the_row_cache(case):
  shape = (4, 5, 2)
  model, params = built(case, shape)
  D, labels = 40, jnp.asarray([0, 1, 2, 0, 1, 2])
  u = jax.random.uniform(jax.random.key(3), (6, D))
  compiled = jax.jit(model.sample)(params, u, **kw(model, labels))
  step = jax.jit(model.sample_step)
  x = jnp.zeros_like(u)
  for d in range(D):  # the Python loop of D jitted network calls
    x = step(params, x, u, d, **kw(model, labels))
  np.testing.assert_array_equal(compiled, x)
  assert 0.1 < float(jnp.mean(compiled)) < 0.9
  if model.sample_cached is not None:
    np.testing.assert_array_equal(jax.jit(model.sample_cached)(params, u, **kw(model, labels)), compiled)
  else:
    assert case in ("pixelcnn", "row_lstm")


def test_sample_i_is_the_same_at_batch_sizes_1_and_16():
  shape = (3, 4, 1)
  model, params = built("gated", shape, sharpen=False)
  one = model.sample_cached(params, uniforms(jax.random.key(5), 1, 12))
  sixteen = model.sample_cached(params, uniforms(jax.random.key(5), 16, 12))
  np.testing.assert_array_equal(one[0], sixteen[0])
  assert len({tuple(np.asarray(r)) for r in sixteen}) > 4


def test_labels_change_the_conditional_model_and_are_required():
  shape = (2, 5, 1)
  model, params = built("gated_conditional", shape, sharpen=False)
  x = jnp.asarray([[0.0, 1.0] * 5, [1.0, 1.0, 0.0, 0.0, 1.0] * 2])
  a, b = (model.test_log_prob(params, x, labels=jnp.full((2,), y)) for y in (0, 1))
  assert float(jnp.abs(a - b).min()) > 1e-2, (a, b)
  with pytest.raises(ValueError, match="conditional .* it needs labels"):
    model.test_log_prob(params, x, labels=None)


def small(model, *overrides):
  return config_lib.override(config_lib.load(model, "tiny"), list(overrides))


@pytest.mark.parametrize("model, override, message", [
    ("pixelcnn", "net.features=7", "PixelCNN needs an even net.features"),
    ("pixelcnn", "net.num_classes=10", "and no labels"),
    ("pixelcnn", "sample.sampler=cached", r"sample.sampler must be 'full' \(no cached sampler"),
    ("gated_pixelcnn", "sample.sampler=fast", "sample.sampler must be 'full' or 'cached'"),
    ("gated_pixelcnn", "net.num_layers=0", "net.num_layers must be a positive integer"),
    ("pixelcnn", "net.kernel=0", "net.kernel must be a positive integer"),
    ("pixelrnn", "net.layer=gru", "net.layer must be one of row_lstm, diagonal_bilstm"),
    ("pixelrnn", "net.units=0", "net.units must be a positive integer"),
])
def test_bad_settings_are_refused_by_name(model, override, message):
  with pytest.raises(ValueError, match=message):
    registry.build(small(model, override))


def test_fewer_maps_than_channels_are_refused():
  config = small("pixelcnn", "net.features=2", "net.out_features=2")
  with pytest.raises(ValueError, match="at least one feature per channel: 2 < 3"):
    pixelcnn.make(config, (4, 4, 3), gated=False).init(jax.random.key(0), jnp.zeros((1, 48)))
