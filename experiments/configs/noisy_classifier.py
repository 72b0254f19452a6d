"""A classifier of noisy images x_t for classifier guidance of the ddpm family (Dhariwal & Nichol 2021).

  default  for the ddpm `conditional`/`default` configs (T = 1000, linear β 1e-4 -> 0.02): the
           U-Net's down path 32 -> 64, bottom 128, GroupNorm, linear head on the 7 x 7 x 128 features; Adam 1e-3,
           batch 128, 3 epochs.
  cosine   for the ddpm `cosine` config.
  tiny     seconds: for tests (matches the ddpm `tiny` config's diffusion, T = 20).
The diffusion.* keys must equal those of the diffusion run it guides (checked at sampling).
"""

import ml_collections

VARIANTS = ("default", "cosine", "tiny")


def get_config(arg=None):
  arg = arg or "default"
  if arg not in VARIANTS:
    raise ValueError(f"unknown noisy_classifier config {arg!r}; valid: {', '.join(VARIANTS)}")
  config = ml_collections.ConfigDict()
  config.model = "noisy_classifier"
  config.seed = 0
  config.matmul_precision = "default"  # training products; evaluation runs at "highest"

  config.data = ml_collections.ConfigDict()
  config.data.name = "mnist"
  config.data.data_dir = ""            # "" -> --data-dir, GEN_JAX_DATA_DIR, else TFDS
  config.data.scale = "symmetric"      # x_0 in [-1, 1], as the diffusion model's
  config.data.batch_size = 128
  config.data.train_examples = -1      # -1: all 60,000
  config.data.test_examples = -1

  config.diffusion = ml_collections.ConfigDict()  # the guided model's noising q(x_t | x_0)
  config.diffusion.num_steps = 1000    # T
  config.diffusion.schedule = "linear"  # "linear" | "cosine"
  config.diffusion.beta_1 = 1e-4
  config.diffusion.beta_T = 0.02

  config.net = ml_collections.ConfigDict()
  config.net.num_classes = 10
  config.net.widths = (32, 64)         # channels per resolution of the down path
  config.net.bottom_width = 128
  config.net.time_dim = 100            # sinusoidal time embedding width

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "adam"
  config.optimizer.learning_rate = 1e-3
  config.optimizer.b1 = 0.9
  config.optimizer.b2 = 0.999
  config.optimizer.eps = 1e-8

  config.train = ml_collections.ConfigDict()
  config.train.num_epochs = 3
  config.train.num_steps = -1          # > 0 overrides num_epochs
  config.train.log_every = 100
  config.train.checkpoint_every = 1000
  config.train.keep_checkpoints = 3
  config.train.sample_every = 0        # a classifier does not sample
  config.train.progress_bar = True

  config.eval = ml_collections.ConfigDict()
  config.eval.batch_size = 500

  if arg == "cosine":
    config.diffusion.schedule = "cosine"
  elif arg == "tiny":
    config.data.batch_size = 32
    config.data.train_examples = 2048
    config.data.test_examples = 200
    config.diffusion.num_steps = 20
    config.net.widths = (16,)
    config.net.bottom_width = 32
    config.net.time_dim = 16
    config.optimizer.learning_rate = 3e-3
    config.train.num_epochs = 3
    config.train.log_every = 16
    config.train.checkpoint_every = 64
    config.train.progress_bar = False
    config.eval.batch_size = 32
  return config
