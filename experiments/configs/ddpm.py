"""Denoising diffusion on MNIST (Ho et al. 2020), and every key the ddpm family reads.

  default      unconditional: T = 1000, linear β 1e-4 -> 0.02, ε-prediction, U-Net 32 -> 64,
               bottom 128, GroupNorm; Adam 1e-3, batch 128, EMA 0.999; sized for this 2-core CPU.
  conditional  the default with labels: classifier-free guidance (label dropped to the null
               label per sample with p = 0.1), sampled at γ = 3.
  cosine       the default with the cosine schedule (Nichol & Dhariwal 2021).
  dlfs5        "Deep Learning from Scratch 5" ch. 9: U-Net 64 -> 128, bottom 256, BatchNorm,
               time embedding 100 added to each block's input, Adam 1e-3, batch 128, 10 epochs
               (for a GPU).
  tiny         seconds: for tests.
"""

import ml_collections

VARIANTS = ("default", "conditional", "cosine", "dlfs5", "tiny")


def get_config(arg=None):
  arg = arg or "default"
  if arg not in VARIANTS:
    raise ValueError(f"unknown ddpm config {arg!r}; valid: {', '.join(VARIANTS)}")
  config = ml_collections.ConfigDict()
  config.model = "ddpm"
  config.seed = 0
  # float32 products of the training update ("default": XLA's, TF32 on NVIDIA GPUs); the
  # variational bound always runs at "highest" (gen_jax.precision).
  config.matmul_precision = "default"

  config.data = ml_collections.ConfigDict()
  config.data.name = "mnist"
  config.data.data_dir = ""            # "" -> --data-dir, GEN_JAX_DATA_DIR, else TFDS
  config.data.scale = "symmetric"      # x_0 in [-1, 1]
  config.data.batch_size = 128
  config.data.train_examples = -1      # -1: all 60,000
  config.data.test_examples = -1

  config.diffusion = ml_collections.ConfigDict()
  config.diffusion.num_steps = 1000    # T
  config.diffusion.schedule = "linear"  # "linear" | "cosine" (gen_jax.diffusion.schedules)
  config.diffusion.beta_1 = 1e-4       # linear schedule: β_1 ...
  config.diffusion.beta_T = 0.02       # ... to β_T
  config.diffusion.label_dropout = 0.1  # conditional: P(label -> null label), per sample

  config.net = ml_collections.ConfigDict()
  config.net.widths = (32, 64)         # U-Net channels per resolution (each level halves H, W)
  config.net.bottom_width = 128        # channels at the lowest resolution
  config.net.time_dim = 100            # sinusoidal time embedding (and label embedding) width
  config.net.norm = "group"            # "group" (per sample) | "batch" (the book's)
  config.net.inject = "after_norm"     # time/label embedding: "after_norm" (Ho et al.) | "input" (the book's)
  config.net.num_classes = 0           # > 0: conditional on labels in [0, num_classes)

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "adam"
  config.optimizer.learning_rate = 1e-3
  config.optimizer.b1 = 0.9
  config.optimizer.b2 = 0.999
  config.optimizer.eps = 1e-8

  config.train = ml_collections.ConfigDict()
  config.train.num_epochs = 10
  config.train.num_steps = -1          # > 0 overrides num_epochs
  config.train.ema_decay = 0.999       # sample and evaluate with an EMA of the parameters
  config.train.log_every = 100
  config.train.checkpoint_every = 1000
  config.train.keep_checkpoints = 3
  config.train.sample_every = 2000     # samples_<step>.png (ancestral, T network calls)
  config.train.progress_bar = True

  config.sample = ml_collections.ConfigDict()
  config.sample.sampler = "ddpm"       # "ddpm" (ancestral, T steps) | "ddim"
  config.sample.steps = 50             # DDIM steps S
  config.sample.eta = 0.0              # DDIM η (0: deterministic)
  config.sample.variance = "beta"      # ancestral σ_t²: "beta" (β_t) | "posterior" (β̃_t)
  config.sample.clip_denoised = True   # clip x̂_0 to [-1, 1] at every step
  config.sample.guidance = 1.0         # classifier-free γ (1: plain conditional; conditional models)
  config.sample.batch_size = 500       # samples drawn at once
  config.sample.classifier_workdir = ""  # a noisy_classifier run: classifier guidance ("" : none)
  config.sample.classifier_scale = 1.0   # its scale s: ε̂ - s √(1-ᾱ_t) ∇ log p_φ(y | x_t, t)

  config.eval = ml_collections.ConfigDict()
  config.eval.num_examples = 500       # test images in the variational bound
  config.eval.vlb_timesteps = 50       # timesteps per image in the bound's estimate (0: all T - 1)
  config.eval.batch_size = 100

  if arg == "conditional":
    config.net.num_classes = 10
    config.sample.guidance = 3.0
  elif arg == "cosine":
    config.diffusion.schedule = "cosine"
  elif arg == "dlfs5":
    config.net.widths = (64, 128)
    config.net.bottom_width = 256
    config.net.norm = "batch"
    config.net.inject = "input"
    config.train.ema_decay = 0.0
  elif arg == "tiny":
    config.data.batch_size = 32
    config.data.train_examples = 512
    config.data.test_examples = 64
    config.diffusion.num_steps = 20
    config.net.widths = (8,)
    config.net.bottom_width = 16
    config.net.time_dim = 16
    config.net.num_classes = 10
    config.train.num_epochs = 4
    config.train.ema_decay = 0.9
    config.train.log_every = 4
    config.train.checkpoint_every = 32
    config.train.sample_every = 64
    config.train.progress_bar = False
    config.sample.guidance = 3.0
    config.sample.batch_size = 50
    config.sample.steps = 5
    config.eval.num_examples = 32
    config.eval.vlb_timesteps = 0
    config.eval.batch_size = 32
  return config
