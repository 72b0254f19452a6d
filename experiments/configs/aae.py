"""Adversarial autoencoders on dynamically binarized MNIST (Makhzani et al. 2016).

  default  MLP 784-512-512-8, normal prior N(0, I_8); 8 epochs, batch 100 (3 min 54 s on one core
           of the 2-core CPU, evaluation included).
  mixture  2-D codes, the 10-component Gaussian mixture prior (means on a circle of radius 4).
  tiny     40 steps on 1,000 examples, for tests (~35 s of CPU per run, mostly XLA compilation).
"""

import ml_collections

VARIANTS = ("default", "mixture", "tiny")


def get_config(arg=None):
  arg = arg or "default"
  if arg not in VARIANTS:
    raise ValueError(f"unknown aae config {arg!r}; valid: {', '.join(VARIANTS)}")
  config = ml_collections.ConfigDict()
  config.model = "aae"
  config.seed = 0
  # float32 products of the training update: "default" is XLA's (TF32 on NVIDIA GPUs, one
  # bfloat16 pass on TPUs, float32 on CPUs); "highest" is full float32 (slower on GPU/TPU).
  # Evaluation always runs at "highest" (gen_jax.precision).
  config.matmul_precision = "default"

  config.data = ml_collections.ConfigDict()
  config.data.name = "mnist"
  config.data.data_dir = ""          # "" -> --data-dir, GEN_JAX_DATA_DIR, else TFDS
  config.data.scale = "unit"         # pixels in [0, 1]; binarized ~ Bernoulli(pixel) at every step
  config.data.batch_size = 100       # the paper's batch size
  config.data.train_examples = -1    # -1: all 60,000
  config.data.test_examples = -1     # -1: all 10,000

  config.net = ml_collections.ConfigDict()
  config.net.arch = "mlp"            # "mlp" or "conv" (gen_jax.nn.coders)
  config.net.encoder_widths = (512, 512)  # hidden widths of q(z|x) (deterministic code)
  config.net.decoder_widths = (512, 512)  # hidden widths of p(x|z) (Bernoulli logits)
  config.net.act = "relu"            # activation of encoder and decoder
  config.net.latent_dim = 8          # D
  config.net.prior = "normal"        # "normal": N(0, I_D); "mixture": see below
  config.net.prior_components = 10   # mixture: K equally weighted components
  config.net.prior_radius = 4.0      # mixture: means r(cos 2πk/K, sin 2πk/K, 0, ...)
  config.net.prior_std = 0.5         # mixture: each component's standard deviation
  config.net.discriminator_hidden = (512, 512)  # MLP on z -> 1 logit
  config.net.discriminator_act = "relu"

  config.loss = ml_collections.ConfigDict()
  # λ in L_G = BCE (nats/image, summed over 784 pixels) + λ · softplus(-D(E(x))). The BCE is
  # ~100 nats, the adversarial term ~1: λ = 10 lets the prior shape the codes.
  config.loss.adversarial_weight = 10.0

  config.optimizer = ml_collections.ConfigDict()      # the autoencoder (encoder + decoder)
  config.optimizer.name = "adam"
  config.optimizer.learning_rate = 1e-3
  config.optimizer.b1 = 0.9
  config.optimizer.b2 = 0.999

  config.discriminator_optimizer = ml_collections.ConfigDict()  # the discriminator on codes
  config.discriminator_optimizer.name = "adam"
  config.discriminator_optimizer.learning_rate = 2e-4
  config.discriminator_optimizer.b1 = 0.5            # the usual GAN setting
  config.discriminator_optimizer.b2 = 0.999

  config.train = ml_collections.ConfigDict()
  config.train.num_epochs = 8
  config.train.num_steps = -1        # > 0 overrides num_epochs
  config.train.log_every = 100
  config.train.checkpoint_every = 1000
  config.train.keep_checkpoints = 3
  config.train.sample_every = 1000   # a 64-sample grid every this many steps (0: never)
  config.train.progress_bar = True

  config.eval = ml_collections.ConfigDict()
  config.eval.batch_size = 1000

  if arg == "mixture":
    config.net.latent_dim = 2        # the codes are the picture: latent_space.png
    config.net.prior = "mixture"
    config.train.num_epochs = 5
  elif arg == "tiny":
    config.net.encoder_widths = (64,)
    config.net.decoder_widths = (64,)
    config.net.discriminator_hidden = (32,)
    config.data.batch_size = 50
    config.data.train_examples = 1000
    config.data.test_examples = 500
    config.train.num_epochs = 2
    config.train.num_steps = 40      # 2 epochs of 20 steps
    config.train.log_every = 5
    config.train.checkpoint_every = 10
    config.train.sample_every = 20
    config.train.progress_bar = False
    config.eval.batch_size = 250
  return config
