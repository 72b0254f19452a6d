"""The normal distribution by maximum likelihood (closed form: one step).

  default  gen-jax train gaussian --data ../shared/data/dlfs5/height.txt --workdir runs/height
           (a two-column file such as height_weight.txt gives a 2-D normal)
  tiny     a 2-D toy set, for tests
"""

import ml_collections

VARIANTS = ("default", "tiny")


def get_config(arg=None):
  arg = arg or "default"
  if arg not in VARIANTS:
    raise ValueError(f"unknown gaussian config {arg!r}; valid: {', '.join(VARIANTS)}")
  config = ml_collections.ConfigDict()
  config.model = "gaussian"
  config.seed = 0

  config.data = ml_collections.ConfigDict()
  config.data.name = "points"
  config.data.source = ""          # --data FILE | toy:NAME | mnist
  config.data.data_dir = ""
  config.data.toy_examples = 2000
  config.data.seed = 0
  config.data.batch_size = -1      # the MLE reads all the data at once

  config.train = ml_collections.ConfigDict()
  config.train.num_epochs = 1
  config.train.num_steps = 1       # closed form: one step
  config.train.log_every = 1
  config.train.checkpoint_every = 1
  config.train.keep_checkpoints = 1
  config.train.sample_every = 0
  config.train.progress_bar = False
  if arg == "tiny":
    config.data.source = "toy:two_moons"
    config.data.toy_examples = 500
  return config
