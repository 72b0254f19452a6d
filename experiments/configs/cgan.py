"""Conditional DCGAN on MNIST (Mirza & Osindero 2014): dcgan.py with the digit label embedded
in both players: G sees [z, embed(y)] (16-wide embedding); D adds <e_y, φ(x)> to its logit, a
class embedding against its features (the projection discriminator of Miyato & Koyama 2018;
`net.conditioning = "input"`: an extra input plane embed(y) instead). Fakes carry the labels of
the real batch.

  default  dcgan.py's default networks and recipe, conditional, 10 epochs.
  tiny     seconds: for tests.
Every other key: gan.py.
"""

from pathlib import Path

from gen_jax.config import load_module

NAME = "cgan"
VARIANTS = ("default", "tiny")


def get_config(arg=None):
  gan, config, arg = load_module(Path(__file__).with_name("dcgan.py")).derived(NAME, arg, VARIANTS)
  config.net.num_classes = 10
  config.net.subpixel_kernel = 3   # the 3x3 superset: the kernel of the runs in the README
  if arg == "tiny":
    gan.tiny(config)
  return config
