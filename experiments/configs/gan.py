"""GANs with MLP players on MNIST (Goodfellow et al. 2014), and every key the GAN family reads.

  default   non-saturating generator loss -log D(G(z)); G 100-256-512-784 (ReLU, tanh out),
            D 784-512-256-1 (LeakyReLU 0.2); Adam 2e-4, β1 = 0.5 for both players; batch 64.
  minimax   the same with the paper's original, saturating loss log(1 - D(G(z))).
  tiny      seconds: for tests.
The convolutional, conditional, InfoGAN and WGAN-GP variants are dcgan.py, cgan.py,
infogan.py and wgan_gp.py: this file with the keys they change.
"""

import ml_collections

VARIANTS = ("default", "minimax", "tiny")


def get_config(arg=None):
  arg = arg or "default"
  if arg not in VARIANTS:
    raise ValueError(f"unknown gan config {arg!r}; valid: {', '.join(VARIANTS)}")
  config = ml_collections.ConfigDict()
  config.model = "gan"
  config.seed = 0
  # float32 products of the training update ("default": XLA's, TF32 on NVIDIA GPUs); the
  # evaluation always runs at "highest" (gen_jax.precision).
  config.matmul_precision = "default"

  config.data = ml_collections.ConfigDict()
  config.data.name = "mnist"
  config.data.data_dir = ""            # "" -> --data-dir, GEN_JAX_DATA_DIR, else TFDS
  config.data.scale = "symmetric"      # pixels in [-1, 1], the range of G's tanh
  config.data.batch_size = 64
  config.data.train_examples = -1      # -1: all 60,000
  config.data.test_examples = -1

  config.net = ml_collections.ConfigDict()
  config.net.arch = "mlp"              # "mlp" | "conv" (DCGAN)
  config.net.noise_dim = 100           # z ~ N(0, I)
  config.net.generator_widths = (256, 512)       # mlp: hidden widths; conv: base-grid channels, then per x2
  config.net.discriminator_widths = (512, 256)   # mlp: hidden widths; conv: channels of the stride-2 convs
  config.net.generator_dense = ()      # conv: hidden Dense widths before G's projection to the grid
  config.net.discriminator_dense = ()  # conv: hidden Dense widths after D's convolutions
  config.net.batch_norm = False        # BatchNorm in G's hidden layers (DCGAN)
  config.net.discriminator_batch_norm = False  # BN in D's hidden layers but the first (not with WGAN-GP)
  config.net.upsample = "subpixel"     # conv G: "subpixel" | "transpose" | "resize" (gen_jax.gan.nets)
  config.net.subpixel_kernel = 2       # 2: exactly a 4x4 stride-2 transposed conv; 3: a superset, 9/4 the work
  config.net.leak = 0.2                # LeakyReLU slope of D
  config.net.init_std = 0.0            # > 0: weights ~ N(0, std²) (DCGAN: 0.02); 0: Flax's LeCun normal
  config.net.num_classes = 0           # > 0: conditional GAN, labels embedded in both players
  config.net.embed_dim = 16            # width of G's label embedding
  config.net.conditioning = "projection"  # how D sees the label: "projection" | "input" (gen_jax.gan.nets)
  config.net.categorical_code = 0      # InfoGAN: values of the categorical code (0: none)
  config.net.continuous_codes = 0      # InfoGAN: continuous codes ~ U(-1, 1)
  config.net.q_hidden = 128            # InfoGAN: hidden width of the Q head on D's trunk

  config.loss = ml_collections.ConfigDict()
  config.loss.name = "non_saturating"  # "non_saturating" | "minimax" | "wasserstein"
  config.loss.gradient_penalty = 0.0   # λ of WGAN-GP's penalty (wasserstein only)
  config.loss.info_weight = 1.0        # InfoGAN: λ of the categorical code's -log Q
  config.loss.info_continuous_weight = 0.1  # InfoGAN: λ of the continuous codes' -log Q

  config.optimizer = ml_collections.ConfigDict()  # the generator's
  config.optimizer.name = "adam"
  config.optimizer.learning_rate = 2e-4
  config.optimizer.b1 = 0.5
  config.optimizer.b2 = 0.999
  config.optimizer.eps = 1e-8
  config.discriminator_optimizer = ml_collections.ConfigDict()
  config.discriminator_optimizer.name = "adam"
  config.discriminator_optimizer.learning_rate = 2e-4
  config.discriminator_optimizer.b1 = 0.5
  config.discriminator_optimizer.b2 = 0.999
  config.discriminator_optimizer.eps = 1e-8

  config.train = ml_collections.ConfigDict()
  config.train.num_epochs = 20
  config.train.num_steps = -1          # > 0 overrides num_epochs
  config.train.d_steps = 1             # discriminator (critic) updates per generator update
  config.train.ema_decay = 0.0         # > 0: sample from an EMA of G's parameters with this decay
  config.train.log_every = 200
  config.train.checkpoint_every = 2000
  config.train.keep_checkpoints = 3
  config.train.sample_every = 2000     # samples_<step>.png and loss_curves.png
  config.train.progress_bar = True

  config.eval = ml_collections.ConfigDict()
  config.eval.batch_size = 500         # test images (and as many fakes) per chunk
  config.eval.num_examples = -1        # -1: the whole test set

  if arg == "minimax":
    config.loss.name = "minimax"
  elif arg == "tiny":
    tiny(config)
  return config


def tiny(config):
  """Shrinks any GAN config to seconds of CPU (the tests' variant)."""
  config.data.batch_size = 32
  config.data.train_examples = 512
  config.data.test_examples = 128
  config.net.noise_dim = 16
  config.net.generator_widths = (32, 16) if config.net.arch == "conv" else (64,)
  config.net.discriminator_widths = (16, 32) if config.net.arch == "conv" else (64,)
  config.net.q_hidden = 32
  config.net.generator_dense = tuple(min(w, 32) for w in config.net.generator_dense)
  config.net.discriminator_dense = tuple(min(w, 32) for w in config.net.discriminator_dense)
  config.train.num_epochs = 2
  config.train.log_every = 4
  config.train.checkpoint_every = 16
  config.train.sample_every = 32
  config.train.progress_bar = False
  config.eval.batch_size = 64
  return config
