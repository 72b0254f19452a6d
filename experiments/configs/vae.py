"""Variational autoencoders with one stochastic layer (Kingma & Welling 2014).

  default     binarized MNIST, the IWAE paper's network (Burda et al. 2016): 784-200-200-50
              tanh encoder, 50-200-200-784 Bernoulli decoder; 100 epochs at batch 100.
  iwae_paper  the same network trained as long as the paper (3,280 passes, learning rate
              1e-3·10^(-i/7) for 3^i epochs, i = 0..7; Adam ε = 1e-4), at batch 100.
  paper_short the paper's schedule with every stage shortened in proportion, to 2,000 passes
              (about 2 hours on one core of the 2-core CPU).
  iwae5_short the IWAE of the paper: the same network trained on the bound L_5 (5 importance
              samples per image) instead of the ELBO, on the paper's schedule shortened to 600
              passes (a sample costs ~2.5× an ELBO step; about 2 hours on one core for the hvae).
  dlfs5       "Deep Learning from Scratch 5" ch. 8: 784-200-20 ReLU MLP, Gaussian decoder with
              sigmoid mean (MSE reconstruction), grey levels, Adam 3e-4, batch 32, 30 epochs.
  conv        a convolutional encoder/decoder (32-64 channels), 16 latents, 30 epochs.
  tiny        seconds: for tests.
Test NLL: IWAE with eval.iwae_k samples on the fixed binarization of the test set.
"""

import ml_collections

VARIANTS = ("default", "iwae_paper", "paper_short", "iwae5_short", "dlfs5", "conv", "tiny")
PAPER_SCHEDULE_EPOCHS = {"iwae_paper": 3_280, "paper_short": 2_000, "iwae5_short": 600}  # passes over the data
TRAIN_EXAMPLES = 60_000


def iwae_stages(batch_size: int, train_examples: int = TRAIN_EXAMPLES, passes: int = 8,
                epochs: int = 3_280) -> tuple:
  """Stage i lasts 3^i epochs (Burda et al. 2016, sec. 5): 3,280 epochs over 8 stages; with
  fewer `epochs`, every stage shrinks in the same proportion (at least one step each)."""
  steps_per_epoch = train_examples // batch_size
  scale = epochs / sum(3 ** i for i in range(passes))
  return tuple(max(1, round(3 ** i * steps_per_epoch * scale)) for i in range(passes))


def get_config(arg=None):
  arg = arg or "default"
  if arg not in VARIANTS:
    raise ValueError(f"unknown vae config {arg!r}; valid: {', '.join(VARIANTS)}")
  config = ml_collections.ConfigDict()
  config.model = "vae"
  config.seed = 0
  # float32 products of the training update ("default": XLA's, TF32 on NVIDIA GPUs); the
  # ELBO/IWAE evaluation always runs at "highest" (gen_jax.precision).
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
  config.net.arch = "mlp"              # "mlp" | "conv" (the networks that touch x)
  config.net.likelihood = "bernoulli"  # "bernoulli" (logits) | "gaussian" (sigmoid mean, std decoder_std)
  config.net.decoder_std = 1.0         # gaussian only: fixed std of p(x|z)
  config.net.latents = (50,)           # one entry per stochastic layer
  config.net.encoder_widths = ((200, 200),)  # hidden widths of q(z_1|x)
  config.net.decoder_widths = ((200, 200),)  # hidden widths of p(x|z_1)
  config.net.activation = "tanh"

  config.loss = ml_collections.ConfigDict()
  config.loss.beta = 1.0               # weight of the KL term (β-VAE, Higgins et al. 2017)
  config.loss.iwae_k = 1               # 1: train on the ELBO; k > 1: on the IWAE bound L_k (Burda et al. 2016)

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "adam"
  config.optimizer.learning_rate = 1e-3
  config.optimizer.b1 = 0.9
  config.optimizer.b2 = 0.999
  config.optimizer.eps = 1e-4          # the IWAE paper's ε
  config.optimizer.stage_steps = ()    # () constant rate; else steps per stage (see iwae_paper)
  config.optimizer.stage_decay = 1.0   # rate multiplier from one stage to the next

  config.train = ml_collections.ConfigDict()
  config.train.num_epochs = 100
  config.train.num_steps = -1          # > 0 overrides num_epochs
  config.train.log_every = 600
  config.train.checkpoint_every = 6000
  config.train.keep_checkpoints = 3
  config.train.sample_every = 30000    # sample grids samples_<step>.png
  config.train.progress_bar = True

  config.eval = ml_collections.ConfigDict()
  config.eval.iwae_k = 5000            # importance samples per test image
  config.eval.iwae_chunk = 500         # samples drawn at once (memory ~ batch_size * iwae_chunk)
  config.eval.batch_size = 100         # test images per chunk
  config.eval.num_examples = -1        # -1: the whole test set
  config.eval.binarization_seed = 0    # the fixed binarized test set: numpy default_rng(0)

  if arg in PAPER_SCHEDULE_EPOCHS:
    config.optimizer.stage_steps = iwae_stages(config.data.batch_size, epochs=PAPER_SCHEDULE_EPOCHS[arg])
    config.optimizer.stage_decay = 10 ** (-1 / 7)
    config.train.num_steps = sum(config.optimizer.stage_steps)
    config.loss.iwae_k = 5 if arg == "iwae5_short" else 1
    config.train.checkpoint_every = 30000
    config.train.sample_every = 300000
  elif arg == "dlfs5":
    config.data.binarize = "none"
    config.data.batch_size = 32
    config.net.likelihood = "gaussian"
    config.net.latents = (20,)
    config.net.encoder_widths = ((200,),)
    config.net.decoder_widths = ((200,),)
    config.net.activation = "relu"
    config.optimizer.learning_rate = 3e-4
    config.optimizer.eps = 1e-8
    config.train.num_epochs = 30
    config.train.log_every = 1875
    config.train.checkpoint_every = 18750
    config.train.sample_every = 18750
    config.eval.iwae_k = 1000
  elif arg == "conv":
    config.net.arch = "conv"
    config.net.latents = (16,)
    config.net.encoder_widths = ((32, 64),)
    config.net.decoder_widths = ((64, 32),)
    config.net.activation = "relu"
    config.train.num_epochs = 30
    config.eval.iwae_k = 1000
    config.eval.iwae_chunk = 100
  elif arg == "tiny":
    config.data.batch_size = 50
    config.data.train_examples = 1000
    config.data.test_examples = 200
    config.net.latents = (8,)
    config.net.encoder_widths = ((64,),)
    config.net.decoder_widths = ((64,),)
    config.train.num_epochs = 6
    config.train.log_every = 10
    config.train.checkpoint_every = 40
    config.train.sample_every = 60
    config.train.progress_bar = False
    config.eval.iwae_k = 50
    config.eval.iwae_chunk = 10
    config.eval.batch_size = 100
  return config
