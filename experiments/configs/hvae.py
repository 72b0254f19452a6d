"""Hierarchical VAEs: a Markov chain x <- z_1 <- z_2 of Gaussian stochastic layers.

  default     the IWAE paper's two-layer model (Burda et al. 2016, sec. 5): q(z_1|x) 784-200-200-100,
              q(z_2|z_1) 100-100-100-50, p(z_1|z_2) 50-100-100-100, p(x|z_1) 100-200-200-784,
              tanh, Bernoulli decoder on dynamically binarized MNIST; 100 epochs at batch 100.
  iwae_paper  the same trained as long as the paper (3,280 passes, staged learning rate).
  paper_short the paper's schedule shortened in proportion to 2,000 passes.
  iwae5_short the IWAE of the paper: trained on the bound L_5 instead of the ELBO, the paper's
              schedule shortened to 600 passes (about 2 hours on one core of the 2-core CPU).
  tiny        seconds: for tests.
The network shapes are the VAE's (experiments/configs/vae.py) with one more layer; see there for
every key.
"""

import importlib.util
from pathlib import Path

VARIANTS = ("default", "iwae_paper", "paper_short", "iwae5_short", "tiny")


def _vae_config(arg):
  spec = importlib.util.spec_from_file_location("gen_jax_config_vae", Path(__file__).with_name("vae.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg)


def get_config(arg=None):
  arg = arg or "default"
  if arg not in VARIANTS:
    raise ValueError(f"unknown hvae config {arg!r}; valid: {', '.join(VARIANTS)}")
  config = _vae_config(arg)
  config.model = "hvae"
  config.net.latents = (100, 50)                       # (d_1, d_2)
  config.net.encoder_widths = ((200, 200), (100, 100))  # q(z_1|x), q(z_2|z_1)
  config.net.decoder_widths = ((200, 200), (100, 100))  # p(x|z_1), p(z_1|z_2)
  if arg == "tiny":
    config.net.latents = (16, 8)
    config.net.encoder_widths = ((64,), (32,))
    config.net.decoder_widths = ((64,), (32,))
  return config
