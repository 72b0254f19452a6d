"""NADE (Larochelle & Murray 2011) on binarized MNIST: exact test NLL on the fixed binarization.

  default  500 sigmoid hidden units (the paper's size), pixel order, Adam 1e-3, 20 epochs at batch 100.
  paper    the same network for 200 epochs with the rate decayed ×0.5 every 40 epochs (the paper
           trains by SGD with early stopping; published test NLL 88.33 nats in van den Oord et al.
           2016, table 4).
  order    order-agnostic training: a random pixel ordering per example (Uria et al. 2014);
           the test NLL is that of the pixel order.
  tiny     seconds: for tests.
"""

import ml_collections

VARIANTS = ("default", "paper", "order", "tiny")
STEPS_PER_EPOCH = 600  # 60,000 training images at batch 100


def get_config(arg=None):
  arg = arg or "default"
  if arg not in VARIANTS:
    raise ValueError(f"unknown nade config {arg!r}; valid: {', '.join(VARIANTS)}")
  config = ml_collections.ConfigDict()
  config.model = "nade"
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
  config.net.hidden = 500              # H: sigmoid units shared by all D conditionals
  config.net.order_agnostic = False    # True: a random pixel ordering per training example

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
  config.eval.batch_size = 500         # test images per compiled call
  config.eval.num_examples = -1        # -1: the whole test set
  config.eval.binarization_seed = 0    # the fixed binarized test set: numpy default_rng(0)

  if arg == "paper":
    config.train.num_epochs = 200
    config.optimizer.stage_steps = (40 * STEPS_PER_EPOCH,) * 5
    config.optimizer.stage_decay = 0.5
    config.train.checkpoint_every = 12000
    config.train.sample_every = 30000
  elif arg == "order":
    config.net.order_agnostic = True
  elif arg == "tiny":
    config.data.batch_size = 50
    config.data.train_examples = 1000
    config.data.test_examples = 200
    config.net.hidden = 32
    config.optimizer.learning_rate = 3e-3
    config.train.num_epochs = 4
    config.train.log_every = 10
    config.train.checkpoint_every = 40
    config.train.sample_every = 80
    config.train.progress_bar = False
    config.eval.batch_size = 100
  return config
