"""MNIST classifiers.

  mlp   the Keras book's example (Chollet, "Deep Learning with Python", ch. 2):
        Dense(512, relu) -> Dense(10, softmax), RMSprop(1e-3), 5 epochs, batch 128, [0, 1] inputs.
  cnn   a small CNN, the judge network of the sample-quality metrics.
  tiny  the MLP on 2,048 examples for a few seconds: for tests.
"""

import ml_collections

VARIANTS = ("mlp", "cnn", "tiny")
TRAIN_EXAMPLES = 60_000


def get_config(arg=None):
  arg = arg or "mlp"
  if arg not in VARIANTS:
    raise ValueError(f"unknown classifier config {arg!r}; valid: {', '.join(VARIANTS)}")
  config = ml_collections.ConfigDict()
  config.model = "classifier"
  config.seed = 0
  # float32 products of the training update: "default" is XLA's (TF32 on NVIDIA GPUs, one
  # bfloat16 pass on TPUs, float32 on CPUs); "highest" is full float32 (slower on GPU/TPU).
  # Evaluation always runs at "highest" (gen_jax.precision).
  config.matmul_precision = "default"

  config.data = ml_collections.ConfigDict()
  config.data.name = "mnist"
  config.data.data_dir = ""          # "" -> --data-dir, GEN_JAX_DATA_DIR, else TFDS
  config.data.scale = "unit"         # pixels in [0, 1]
  config.data.batch_size = 128
  config.data.train_examples = -1    # -1: all 60,000
  config.data.test_examples = -1     # -1: all 10,000

  config.net = ml_collections.ConfigDict()
  config.net.arch = "mlp"
  config.net.num_classes = 10
  config.net.hidden = (512,)
  config.net.dropout = 0.0
  config.net.widths = (32, 64)       # cnn only
  config.net.dense = 128             # cnn only
  config.net.double_conv = False     # cnn only

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "rmsprop"  # Keras defaults: rho 0.9, eps 1e-7
  config.optimizer.learning_rate = 1e-3

  config.train = ml_collections.ConfigDict()
  config.train.num_epochs = 5
  config.train.num_steps = -1        # > 0 overrides num_epochs
  config.train.log_every = 100
  config.train.checkpoint_every = 1000
  config.train.keep_checkpoints = 3
  config.train.sample_every = 0      # classifiers cannot sample
  config.train.progress_bar = True

  config.eval = ml_collections.ConfigDict()
  config.eval.batch_size = 1000

  if arg == "cnn":
    config.net.arch = "cnn"
    config.net.widths = (32, 64)
    config.net.double_conv = True
    config.net.dense = 128
    config.net.dropout = 0.25
    config.optimizer.name = "adam"
    config.train.num_epochs = 6
  elif arg == "tiny":
    config.net.hidden = (64,)
    config.net.dropout = 0.1         # > 0: the update uses its per-step key, so tests can see it
    config.data.batch_size = 64
    config.data.train_examples = 2048
    config.data.test_examples = 1000
    config.train.num_epochs = 2
    config.train.log_every = 8
    config.train.checkpoint_every = 16
    config.train.progress_bar = False
    config.eval.batch_size = 500
  return config
