"""MADE (Germain et al. 2015) on binarized MNIST: exact test NLL on the fixed binarization.

  default  2 hidden ReLU layers of 500, 32 masks drawn per step (connectivity-agnostic training),
           each mask with its own pixel ordering; the test NLL averages the probabilities of the
           32 masks; Adam 1e-3, 20 epochs at batch 100. (With the pixel order fixed,
           `--config.net.order_agnostic=False`, 20 epochs gave 129.72 nats against 112.12.)
  one      the same network with a single mask in pixel order: a plain masked MLP.
  paper    2 hidden layers (of 500 units here) and 32 masks, the model of the published 86.64
           nats (van den Oord et al. 2016, table 4), trained 200 epochs with the rate decayed
           ×0.5 every 40 epochs.
  tiny     seconds: for tests.
"""

import ml_collections

VARIANTS = ("default", "one", "paper", "tiny")
STEPS_PER_EPOCH = 600  # 60,000 training images at batch 100


def get_config(arg=None):
  arg = arg or "default"
  if arg not in VARIANTS:
    raise ValueError(f"unknown made config {arg!r}; valid: {', '.join(VARIANTS)}")
  config = ml_collections.ConfigDict()
  config.model = "made"
  config.seed = 0
  # float32 products of the training update ("default": XLA's, TF32 on NVIDIA GPUs); the
  # reported test NLL always runs at "highest" (gen_jax.precision).
  config.matmul_precision = "default"

  config.data = ml_collections.ConfigDict()
  config.data.name = "mnist"
  config.data.data_dir = ""            # "" -> --data-dir, GEN_JAX_DATA_DIR, else TFDS
  config.data.scale = "unit"           # grey levels in [0, 1]
  config.data.binarize = "dynamic"     # "dynamic": pixels ~ Bernoulli(grey) at every step; "none"
  config.data.batch_size = 100
  config.data.train_examples = -1      # -1: all (after the validation split)
  config.data.validation_examples = 0  # held out from the end of the training set, never the test set
  config.data.test_examples = -1

  config.net = ml_collections.ConfigDict()
  config.net.widths = (500, 500)       # hidden ReLU layers; () is a masked logistic regression
  config.net.num_masks = 32            # masks cycled through in training (one drawn per step)
  config.net.mask_seed = 0             # mask m is a function of (mask_seed, m) only
  config.net.order_agnostic = True     # True: each mask also draws its input ordering m^0

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "adam"
  config.optimizer.learning_rate = 1e-3
  config.optimizer.b1 = 0.9
  config.optimizer.b2 = 0.999
  config.optimizer.eps = 1e-8
  config.optimizer.stage_steps = ()    # () constant rate; else steps per stage
  config.optimizer.stage_decay = 1.0   # rate multiplier from one stage to the next

  config.train = ml_collections.ConfigDict()
  config.train.num_epochs = 20
  config.train.num_steps = -1          # > 0 overrides num_epochs
  config.train.log_every = 600
  config.train.checkpoint_every = 3000
  config.train.keep_checkpoints = 3
  config.train.sample_every = 6000     # sample grids samples_<step>.png
  config.train.progress_bar = True

  config.eval = ml_collections.ConfigDict()
  config.eval.num_masks = 32           # masks averaged in the test likelihood (the first M)
  config.eval.batch_size = 500         # test images per compiled call
  config.eval.num_examples = -1        # -1: the whole test set
  config.eval.binarization_seed = 0    # the fixed binarized test set: numpy default_rng(0)

  if arg == "one":
    config.net.num_masks = 1
    config.net.order_agnostic = False
    config.eval.num_masks = 1
  elif arg == "paper":
    config.train.num_epochs = 200
    config.optimizer.stage_steps = (40 * STEPS_PER_EPOCH,) * 5
    config.optimizer.stage_decay = 0.5
    config.train.checkpoint_every = 12000
    config.train.sample_every = 30000
  elif arg == "tiny":
    config.data.batch_size = 50
    config.data.train_examples = 1000
    config.data.test_examples = 200
    config.net.widths = (64,)
    config.net.num_masks = 4
    config.eval.num_masks = 4
    config.optimizer.learning_rate = 3e-3
    config.train.num_epochs = 4
    config.train.log_every = 10
    config.train.checkpoint_every = 40
    config.train.sample_every = 80
    config.train.progress_bar = False
    config.eval.batch_size = 100
  return config
