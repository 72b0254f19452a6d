"""GANs on the engine: the minimax GAN ("gan"), DCGAN ("dcgan"), the conditional GAN ("cgan"),
InfoGAN ("infogan") and WGAN-GP ("wgan_gp"): one builder, the variant read from the config.

Every variant is one game (`gen_jax.gan.losses`) between a generator G (θ) and a discriminator
or critic D (φ), played by the shared two-player step (`gen_jax.train.adversarial`): one jitted
update, D's optimizer step(s) then G's against the updated D, with keys fold_in(k_t, 0) and
fold_in(k_t, 1) of the step key k_t. Images are scaled to [-1, 1] (`data.scale = "symmetric"`).

  discriminator phase  L_D(φ) on a real batch x and fakes G(z) (held fixed), plus
                       λ_GP · E[(||∇f(x̂)||₂ - 1)²] (WGAN-GP) and λ_I · InfoGAN's -log Q(c | G(z, c));
  generator phase      L_G(θ) on fresh fakes, plus λ_I · -log Q(c | G(z, c)).
A conditional GAN's fakes carry the labels of the real batch; InfoGAN's codes are drawn.
BatchNorm statistics live in `state.batch_stats["generator"]` (DCGAN's G) and
`["discriminator"]` (`net.discriminator_batch_norm`); sampling and evaluation use their
running averages. With `train.ema_decay` > 0 samples (and evaluation's
fakes) come from the generator's parameter average `state.ema_params`.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gen_jax import viz
from gen_jax.data import batched_apply
from gen_jax.gan import losses
from gen_jax.gan.codes import CodeSpec, Inputs
from gen_jax.gan.figures import write_code_sweeps
from gen_jax.gan.nets import ARCHS, CONDITIONINGS, UPSAMPLES, Discriminator, Generator
from gen_jax.nn import ImageShape
from gen_jax.nn.coders import check_images as check_image_batch, check_labels
from gen_jax.registry import Family, register
from gen_jax.train import make_optimizer
from gen_jax.train.adversarial import DISCRIMINATOR, GENERATOR, init_state, make_two_player_update

MODELS = ("gan", "dcgan", "cgan", "infogan", "wgan_gp")


def check_config(config: ml_collections.ConfigDict) -> None:
  net, loss = config.net, config.loss
  for key, value, valid in (("net.arch", net.arch, ARCHS), ("net.upsample", net.upsample, UPSAMPLES),
                            ("net.conditioning", net.get("conditioning", "input"), CONDITIONINGS)):
    if value not in valid:
      raise ValueError(f"unknown {key} {value!r}; valid: {', '.join(valid)}")
  game = losses.game(loss.name)
  if loss.gradient_penalty < 0 or (loss.gradient_penalty > 0 and not game.wasserstein):
    raise ValueError("loss.gradient_penalty must be >= 0, and is used with loss.name = 'wasserstein' only; "
                     f"got {loss.gradient_penalty} with {loss.name!r}")
  if loss.gradient_penalty > 0 and net.get("discriminator_batch_norm", False):
    raise ValueError("the gradient penalty needs a critic without batch norm (net.discriminator_batch_norm = False)")
  if config.data.scale != "symmetric":
    raise ValueError(f"the generator ends in tanh: data.scale must be 'symmetric' ([-1, 1]), got {config.data.scale!r}")


def check_images(x, shape=None) -> None:
  check_image_batch(x, shape, model="a GAN", pixels=" in [-1, 1]")


def code_spec(net: ml_collections.ConfigDict) -> CodeSpec:
  return CodeSpec(net.noise_dim, net.num_classes, net.categorical_code, net.continuous_codes)


def to_unit(images: jax.Array) -> jax.Array:
  """[-1, 1] -> [0, 1]."""
  return (images + 1.0) / 2.0


@register("gan")
@register("dcgan")
@register("cgan")
@register("infogan")
@register("wgan_gp")
def build(config: ml_collections.ConfigDict, *, axis_name: str | None = None) -> Family:
  check_config(config)
  net, lc = config.net, config.loss
  d_norm = bool(net.get("discriminator_batch_norm", False))  # keys added later: defaults for older runs
  spec, game = code_spec(net), losses.game(lc.name)
  disc = Discriminator(net.arch, tuple(net.discriminator_widths), net.leak, net.num_classes, spec.q_outputs,
                       net.q_hidden, net.init_std, tuple(net.get("discriminator_dense", ())),
                       net.get("conditioning", "input"), d_norm)
  tx_g, tx_d = make_optimizer(config.optimizer), make_optimizer(config.discriminator_optimizer)
  image = ImageShape()  # recorded by init (also under eval_shape, when a run is restored)
  ema_decay = config.train.get("ema_decay", 0.0)  # keys added later read with defaults: older runs restore
  sampler = lambda state: state.ema_params if ema_decay > 0 else state.params[GENERATOR]  # G that samples

  def generator(shape=None):
    return Generator(net.arch, tuple(shape or image.get()), tuple(net.generator_widths), net.batch_norm,
                     net.upsample, net.num_classes, net.embed_dim, net.init_std, tuple(net.get("generator_dense", ())),
                     net.get("subpixel_kernel", 3))

  def generate(g, stats, inputs: Inputs, *, train: bool):
    """(fakes [B, H, W, C] in [-1, 1], new batch stats); BN in batch mode when training."""
    variables = {"params": g, **({"batch_stats": stats[GENERATOR]} if net.batch_norm else {})}
    args = (spec.generator_input(inputs), spec.generator_labels(inputs))
    if train and net.batch_norm:
      fake, new = generator().apply(variables, *args, train=True, mutable=["batch_stats"])
      return fake, {**stats, GENERATOR: new["batch_stats"]}
    return generator().apply(variables, *args, train=train), stats

  def critic(d, stats, x, labels, *, train: bool = False):
    """(D's logits or critic values [B], Q outputs or None, new batch stats); with BN in D,
    batch mode when training (real and fake batches normalised apart, as DCGAN does)."""
    y = labels if net.num_classes else None
    if not d_norm:
      return (*disc.apply({"params": d}, x, y), stats)
    variables = {"params": d, "batch_stats": stats[DISCRIMINATOR]}
    if not train:
      return (*disc.apply(variables, x, y), stats)
    (out, q), new = disc.apply(variables, x, y, train=True, mutable=["batch_stats"])
    return out, q, {**stats, DISCRIMINATOR: new["batch_stats"]}

  def info(q, inputs: Inputs):
    if not spec.q_outputs:
      return jnp.zeros((), jnp.float32), {}
    cat, cont = losses.info_terms(q, inputs.labels if spec.categorical else None, inputs.continuous)
    return lc.info_weight * cat + lc.info_continuous_weight * cont, {"info_categorical": cat, "info_continuous": cont}

  def init(key, example):
    x = jnp.asarray(example["image"][:1])  # [1, H, W, C]
    check_images(x)
    image.record(x)
    return init_jit(key, x)

  @jax.jit
  def init_jit(key, x):
    k_g, k_d, k_in = jax.random.split(key, 3)
    inputs = spec.draw(k_in, 1)
    variables = generator(x.shape[1:]).init(k_g, spec.generator_input(inputs), spec.generator_labels(inputs),
                                            train=False)
    d_vars = disc.init(k_d, x, inputs.labels if net.num_classes else None)
    stats = {**({GENERATOR: variables["batch_stats"]} if net.batch_norm else {}),
             **({DISCRIMINATOR: d_vars["batch_stats"]} if d_norm else {})}
    d_params = d_vars["params"]
    return init_state(d_params, variables["params"], tx_d, tx_g, batch_stats=stats, ema=ema_decay > 0)

  def fake_inputs(batch, key):
    x = batch["image"]
    check_images(x, image.shape)
    return spec.draw(key, x.shape[0], labels=batch["label"] if net.num_classes else None)

  def d_loss_fn(d, g, batch, *, key, batch_stats):
    """L_D(φ) (+ λ_GP · penalty, + λ_I · InfoGAN term) with the fakes held fixed."""
    k_in, k_gp = jax.random.split(key)
    inputs = fake_inputs(batch, k_in)
    fake, batch_stats = generate(g, batch_stats, inputs, train=True)
    fake = jax.lax.stop_gradient(fake)
    real_out, _, batch_stats = critic(d, batch_stats, batch["image"], inputs.labels, train=True)
    fake_out, q, batch_stats = critic(d, batch_stats, fake, inputs.labels, train=True)
    loss, metrics = game.discriminator(real_out, fake_out), {}
    if game.wasserstein:
      metrics["wasserstein_estimate"] = jnp.mean(real_out) - jnp.mean(fake_out)
    else:
      metrics["d_accuracy"] = 0.5 * (jnp.mean(real_out > 0) + jnp.mean(fake_out < 0))
    if lc.gradient_penalty > 0:
      x_hat = losses.interpolates(batch["image"], fake, key=k_gp)
      penalty = jnp.mean(losses.gradient_penalty(lambda xx, yy: critic(d, batch_stats, xx, yy)[0], x_hat,
                                                 inputs.labels if net.num_classes else None))
      loss, metrics["gradient_penalty"] = loss + lc.gradient_penalty * penalty, penalty
    info_loss, info_metrics = info(q, inputs)
    return loss + info_loss, ({**metrics, **info_metrics}, batch_stats)

  def g_loss_fn(g, d, batch, *, key, batch_stats):
    """L_G(θ) (+ λ_I · InfoGAN term) on fresh fakes, against the updated D."""
    inputs = fake_inputs(batch, key)
    fake, batch_stats = generate(g, batch_stats, inputs, train=True)
    fake_out, q, batch_stats = critic(d, batch_stats, fake, inputs.labels, train=True)
    info_loss, _ = info(q, inputs)
    return game.generator(fake_out) + info_loss, ({}, batch_stats)

  @jax.jit
  def eval_chunk(state, chunk, key):
    """Per test image i: D on it and on fake number i (inputs from fold_in(key, i))."""
    d, g = state.params[DISCRIMINATOR], sampler(state)
    inputs = spec.draw_at(key, chunk["index"], labels=chunk["label"] if net.num_classes else None)
    fake, _ = generate(g, state.batch_stats, inputs, train=False)
    real_out, _, _ = critic(d, state.batch_stats, chunk["image"], inputs.labels)
    fake_out, q, _ = critic(d, state.batch_stats, fake, inputs.labels)
    out = {"real": real_out, "fake": fake_out}
    if spec.categorical:
      out["q_correct"] = (jnp.argmax(q[:, :spec.categorical], -1) == inputs.labels).astype(jnp.float32)
    return out

  def evaluate(state, split, key):
    """On test images and as many fakes: D's accuracy on each (logit > 0 means "real"), or the
    critic's Wasserstein estimate E f(x) - E f(G(z)); InfoGAN: how often Q recovers c_cat."""
    check_images(split["image"], image.shape)
    n = len(split["image"])
    limit = config.eval.num_examples
    n = min(n, limit) if limit and limit > 0 else n
    arrays = {"image": split["image"][:n], "label": split["label"][:n], "index": np.arange(n, dtype=np.int32)}
    out = batched_apply(lambda c: eval_chunk(state, c, key), arrays, config.eval.batch_size)
    real, fake = np.asarray(out["real"], np.float64), np.asarray(out["fake"], np.float64)
    if game.wasserstein:
      results = {"test_wasserstein_estimate": float(real.mean() - fake.mean())}
    else:
      results = {"test_d_real_accuracy": float(np.mean(real > 0)), "test_d_fake_accuracy": float(np.mean(fake < 0))}
    if "q_correct" in out:
      results["test_q_code_accuracy"] = float(np.mean(out["q_correct"]))
    return {**results, "num_examples": n}

  @functools.partial(jax.jit, static_argnums=(3,))
  def draw_images(g, stats, key, num, labels):
    fake, _ = generate(g, stats, spec.draw(key, num, labels=labels), train=False)
    return to_unit(fake)  # [N, H, W, C] in [0, 1]

  def sample(state, key, num, labels=None):
    """uint8 images [N, H, W, C]; sample i from fold_in(key, i); `labels` fix y or c_cat."""
    if labels is not None:
      labels = check_labels(labels, num, spec.label_values)
    return viz.to_uint8(draw_images(sampler(state), state.batch_stats, key, int(num), labels))

  def report(state, train, workdir):
    """InfoGAN: grids that sweep each code (`gen_jax.gan.figures`)."""
    if spec.q_outputs:
      write_code_sweeps(spec, lambda inputs: to_unit(generate(sampler(state), state.batch_stats,
                                                              inputs, train=False)[0]), workdir)

  update = make_two_player_update(d_loss_fn, g_loss_fn, tx_d, tx_g, d_steps=config.train.d_steps,
                                  ema_decay=ema_decay, axis_name=axis_name)
  return Family(name=config.model, init=init, update=update, evaluate=evaluate, sample=sample,
                conditional=bool(spec.label_values), report=report)
