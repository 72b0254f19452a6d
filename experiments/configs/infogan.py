"""InfoGAN on MNIST (Chen, Duan, Houthooft, Schulman, Sutskever & Abbeel 2016): dcgan.py's
networks with a categorical code c_cat of 10 values and 2 continuous codes c_1, c_2 ~ U(-1, 1)
fed to G beside z (62 dimensions, the paper's), and a Q head on D's trunk that predicts them;
both players add λ · -log Q(c | G(z, c)) (λ = 1 for c_cat, 0.1 for the continuous codes).

  default  10 epochs at batch 64; Adam with the paper's rates: G 1e-3, D (and Q) 2e-4.
  tiny     seconds: for tests.
Every other key: gan.py.
"""

from pathlib import Path

from gen_jax.config import load_module

NAME = "infogan"
VARIANTS = ("default", "tiny")


def get_config(arg=None):
  arg = arg or "default"
  if arg not in VARIANTS:
    raise ValueError(f"unknown {NAME} config {arg!r}; valid: {', '.join(VARIANTS)}")
  here = Path(__file__)
  gan, config = load_module(here.with_name("gan.py")), load_module(here.with_name("dcgan.py")).get_config()
  config.model = NAME
  config.net.noise_dim = 62
  config.net.categorical_code = 10
  config.net.continuous_codes = 2
  config.loss.info_weight = 1.0
  config.loss.info_continuous_weight = 0.1
  config.optimizer.learning_rate = 1e-3  # G's; D's stays 2e-4
  if arg == "tiny":
    gan.tiny(config)
  return config
