"""Gaussian mixtures fitted by EM (one engine step = one EM iteration).

  default  K=2, full covariances: the Old Faithful figure of "Deep Learning from Scratch 5"
           (gen-jax train gmm --data ../shared/data/dlfs5/old_faithful.txt --workdir runs/gmm)
  mnist    K=10, diagonal covariances on MNIST pixels in [0, 1]: an image-generator baseline
  tiny     K=3 on a 2-D toy mixture, for tests
"""

import ml_collections

VARIANTS = ("default", "mnist", "tiny")


def get_config(arg=None):
  arg = arg or "default"
  if arg not in VARIANTS:
    raise ValueError(f"unknown gmm config {arg!r}; valid: {', '.join(VARIANTS)}")
  config = ml_collections.ConfigDict()
  config.model = "gmm"
  config.seed = 0
  config.n_components = 2
  config.covariance_type = "full"  # full | diag | spherical | tied
  config.init = "kmeans++"         # kmeans++ | kmeans | random
  config.reg_covar = 1e-6          # added to the covariance diagonals
  config.tol = 1e-3                # stop when the mean log-likelihood gains less than this

  config.data = ml_collections.ConfigDict()
  config.data.name = "points"
  config.data.source = ""          # --data FILE | toy:NAME | mnist
  config.data.data_dir = ""        # MNIST folder (for --data mnist)
  config.data.toy_examples = 2000
  config.data.seed = 0             # toy data generation
  config.data.batch_size = -1      # EM reads all the data at every step

  config.train = ml_collections.ConfigDict()
  config.train.num_epochs = 1      # unused: num_steps bounds the iterations
  config.train.num_steps = 100     # max_iter
  config.train.log_every = 1
  config.train.checkpoint_every = 10
  config.train.keep_checkpoints = 2
  config.train.sample_every = 0
  config.train.progress_bar = True

  if arg == "mnist":
    config.n_components = 10
    config.covariance_type = "diag"
    config.reg_covar = 1e-2        # pixels near 0 or 1 would otherwise make variances vanish
    config.data.source = "mnist"
    config.train.sample_every = 50
  elif arg == "tiny":
    config.n_components = 3
    config.data.source = "toy:gaussian_mixture"
    config.data.toy_examples = 600
    config.train.num_steps = 30
    config.train.checkpoint_every = 5
    config.train.progress_bar = False
  return config
