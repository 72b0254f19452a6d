"""PixelCNN (van den Oord, Kalchbrenner & Kavukcuoglu 2016) on binarized MNIST: exact test NLL.

  default  7×7 mask-A convolution to 2h = 64 maps, 7 residual blocks (1×1 to h, 3×3 mask B,
           1×1 to 2h), two masked 1×1 layers of 64, one logit per pixel; Adam 1e-3, batch 100,
           10 epochs (about 20 min an epoch on one CPU core).
  paper    the PixelRNN paper's PixelCNN layout (its table 4 gives 81.30 nats): 15 residual
           blocks of 2h = 32 maps (h = 16, the size the paper gives for its MNIST PixelRNNs),
           1×1 layers of 32, 100 epochs with the rate halved every 20.
  tiny     seconds: for tests.
"""

import ml_collections

VARIANTS = ("default", "paper", "tiny")
STEPS_PER_EPOCH = 600  # 60,000 training images at batch 100


def get_config(arg=None):
  arg = arg or "default"
  if arg not in VARIANTS:
    raise ValueError(f"unknown pixelcnn config {arg!r}; valid: {', '.join(VARIANTS)}")
  config = ml_collections.ConfigDict()
  config.model = "pixelcnn"
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
  config.net.features = 64             # 2h: maps between residual blocks (even)
  config.net.num_blocks = 7            # residual blocks
  config.net.num_layers = 0            # (gated model only)
  config.net.first_kernel = 7          # the mask-A convolution
  config.net.kernel = 3                # the mask-B convolutions
  config.net.out_features = 64         # the two masked 1×1 output layers
  config.net.num_classes = 0           # 0: unconditional (the plain PixelCNN cannot condition)

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "adam"
  config.optimizer.learning_rate = 1e-3
  config.optimizer.b1 = 0.9
  config.optimizer.b2 = 0.999
  config.optimizer.eps = 1e-8
  config.optimizer.stage_steps = ()    # () constant rate; else steps per stage
  config.optimizer.stage_decay = 1.0   # rate multiplier from one stage to the next

  config.train = ml_collections.ConfigDict()
  config.train.num_epochs = 10
  config.train.num_steps = -1          # > 0 overrides num_epochs
  config.train.log_every = 100
  config.train.checkpoint_every = 600  # resume loses at most one epoch
  config.train.keep_checkpoints = 3
  config.train.sample_every = 3000     # sample grids samples_<step>.png
  config.train.progress_bar = True

  config.sample = ml_collections.ConfigDict()
  config.sample.sampler = "full"       # "full": the whole network once per pixel, in one jit

  config.eval = ml_collections.ConfigDict()
  config.eval.batch_size = 500         # test images per compiled call
  config.eval.num_examples = -1        # -1: the whole test set
  config.eval.binarization_seed = 0    # the fixed binarized test set: numpy default_rng(0)

  if arg == "paper":
    config.net.features = 32
    config.net.num_blocks = 15
    config.net.out_features = 32
    config.train.num_epochs = 100
    config.optimizer.stage_steps = (20 * STEPS_PER_EPOCH,) * 5
    config.optimizer.stage_decay = 0.5
    config.train.sample_every = 12000
  elif arg == "tiny":
    tiny(config)
  return config


def tiny(config):
  """Seconds on a CPU: 1,000 images, 8 maps, 2 blocks or layers, 80 steps (the net keys that
  the config has: pixelrnn.py builds on this too)."""
  config.data.batch_size = 50
  config.data.train_examples = 1000
  config.data.test_examples = 200
  net = {"features": 8, "num_blocks": 2, "num_layers": 2, "first_kernel": 3, "out_features": 8, "units": 4}
  config.net.update({key: value for key, value in net.items() if key in config.net})
  config.optimizer.learning_rate = 3e-3
  config.train.num_epochs = 4
  config.train.log_every = 10
  config.train.checkpoint_every = 40
  config.train.sample_every = 80
  config.train.progress_bar = False
  config.eval.batch_size = 100
