"""DCGAN on MNIST (Radford, Metz & Chintala 2016): the GAN of gan.py with convolutional players.

  default    G: z (100) -> 7x7x64 -> BN ReLU -> x2 -> 14x14x32 -> BN ReLU -> x2 -> 28x28xC, tanh
             (the grid is ceil(H/4) x ceil(W/4): shapes come from the data); D: 4x4 stride-2
             convolutions 32 -> 64 with LeakyReLU 0.2, no BN; weights ~ N(0, 0.02²); Adam 2e-4,
             β1 = 0.5; batch 64; 10 epochs. Upsampling by sub-pixel convolution (gen_jax.gan.nets).
  wide       twice the channels (G 128 -> 64, D 64 -> 128): 4x the work per step.
  transpose  the default with DCGAN's 4x4 stride-2 transposed convolutions.
  tiny       seconds: for tests.
Every other key: gan.py.
"""

from pathlib import Path

from gen_jax.config import load_module

VARIANTS = ("default", "wide", "transpose", "tiny")


def get_config(arg=None):
  arg = arg or "default"
  if arg not in VARIANTS:
    raise ValueError(f"unknown dcgan config {arg!r}; valid: {', '.join(VARIANTS)}")
  gan = load_module(Path(__file__).with_name("gan.py"))
  config = gan.get_config()
  config.model = "dcgan"
  config.net.arch = "conv"
  config.net.generator_widths = (64, 32)
  config.net.discriminator_widths = (32, 64)
  config.net.batch_norm = True
  config.net.init_std = 0.02
  config.train.num_epochs = 10
  if arg == "wide":
    config.net.generator_widths = (128, 64)
    config.net.discriminator_widths = (64, 128)
  elif arg == "transpose":
    config.net.upsample = "transpose"
  elif arg == "tiny":
    gan.tiny(config)
  return config


def derived(name: str, arg, variants=("default", "tiny")):
  """(gan.py, this file's default config renamed `name`, arg) for a config built on DCGAN's
  (cgan.py, infogan.py, wgan_gp.py); an unknown arg is refused."""
  arg = arg or "default"
  if arg not in variants:
    raise ValueError(f"unknown {name} config {arg!r}; valid: {', '.join(variants)}")
  config = get_config()
  config.model = name
  return load_module(Path(__file__).with_name("gan.py")), config, arg
