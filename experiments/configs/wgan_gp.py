"""WGAN-GP on MNIST (Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville 2017): dcgan.py's
networks as generator and critic, the Wasserstein loss, the gradient penalty λ = 10 at random
interpolates (per sample), 5 critic updates per generator update, Adam 1e-4 with β = (0, 0.9)
for both players (the paper's algorithm 1). The critic has no batch norm (nor has any of
gen_jax's discriminators); the generator keeps DCGAN's.

  default  5 epochs of generator steps; the 5 critic steps of a step all see its batch.
  tiny     seconds: for tests.
Every other key: gan.py.
"""

from pathlib import Path

from gen_jax.config import load_module

NAME = "wgan_gp"
VARIANTS = ("default", "tiny")


def get_config(arg=None):
  gan, config, arg = load_module(Path(__file__).with_name("dcgan.py")).derived(NAME, arg, VARIANTS)
  config.loss.name = "wasserstein"
  config.loss.gradient_penalty = 10.0
  config.train.d_steps = 5
  config.train.num_epochs = 5
  for opt in (config.optimizer, config.discriminator_optimizer):
    opt.learning_rate, opt.b1, opt.b2 = 1e-4, 0.0, 0.9
  if arg == "tiny":
    gan.tiny(config)
  return config
