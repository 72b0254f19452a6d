"""MNIST autoencoders (gen_jax/families/autoencoder.py: the objective and its math).

  default    deep MLP 784-512-256-32-256-512-784, ReLU, Bernoulli (BCE) reconstruction, Adam, 10 epochs.
  basic      one hidden layer, the code: 784-32-784 (the Keras blog's "simplest possible autoencoder").
  conv       convolutional: two stride-2 4x4 convs (32, 64) -> 32-D code -> resize+conv decoder.
  sparse     the deep MLP with a 64-D sigmoid code and Ng's KL sparsity penalty (ρ = 0.05, λ = 1).
  denoising  the deep MLP trained to undo Gaussian noise (σ = 0.5, clipped to [0, 1]).
  latent2    the deep MLP with a 2-D code, for the latent scatter plot.
  anomaly    the deep MLP trained on digits 0-8 only; evaluation adds the AUROC of the per-image
             reconstruction error for spotting the held-out 9s.
  tiny       a small MLP on 1,000 images for 100 steps (seconds): for tests.
"""

import ml_collections

VARIANTS = ("default", "basic", "conv", "sparse", "denoising", "latent2", "anomaly", "tiny")


def get_config(arg=None):
  arg = arg or "default"
  if arg not in VARIANTS:
    raise ValueError(f"unknown autoencoder config {arg!r}; valid: {', '.join(VARIANTS)}")
  config = ml_collections.ConfigDict()
  config.model = "autoencoder"
  config.seed = 0
  # float32 products of the training update: "default" is XLA's (TF32 on NVIDIA GPUs, one
  # bfloat16 pass on TPUs, float32 on CPUs); "highest" is full float32 (slower on GPU/TPU).
  # Evaluation always runs at "highest" (gen_jax.precision).
  config.matmul_precision = "default"

  config.data = ml_collections.ConfigDict()
  config.data.name = "mnist"
  config.data.data_dir = ""             # "" -> --data-dir, GEN_JAX_DATA_DIR, else TFDS
  config.data.scale = "unit"            # pixels in [0, 1]: BCE targets and sigmoid outputs
  config.data.batch_size = 128
  config.data.train_examples = -1       # -1: all (60,000, or the images of train_labels)
  config.data.test_examples = -1        # -1: all 10,000
  config.data.validation_examples = 0   # last N training images held out as "validation"
  config.data.train_labels = None       # e.g. (0, ..., 8): train on those digits only (anomaly)

  config.net = ml_collections.ConfigDict()
  config.net.arch = "mlp"               # "mlp" | "conv" (gen_jax.nn.coders Encoder/Decoder)
  config.net.encoder_widths = (512, 256)  # hidden widths (mlp) or conv channels (conv)
  config.net.decoder_widths = (256, 512)  # hidden widths (mlp) or conv channels (conv)
  config.net.latent_dim = 32            # size of the code z
  config.net.activation = "relu"        # hidden activation: relu, elu, tanh, gelu, ...

  config.loss = ml_collections.ConfigDict()
  config.loss.reconstruction = "bce"    # "bce": nats/image of σ(logits) | "mse": per pixel
  config.loss.sparsity = "none"         # "none" | "l1": λ mean|z| | "kl": λ Σ_j KL(ρ‖ρ̂_j), σ codes
  config.loss.sparsity_weight = 0.0     # λ
  config.loss.sparsity_target = 0.05    # ρ, the target mean activation of each code unit (kl)
  config.loss.noise = "none"            # "none" | "gaussian" | "masking" | "salt_pepper"
  config.loss.noise_level = 0.0         # σ (gaussian) or the corrupted fraction of pixels

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "adam"
  config.optimizer.learning_rate = 1e-3

  config.train = ml_collections.ConfigDict()
  config.train.num_epochs = 10
  config.train.num_steps = -1           # > 0 overrides num_epochs
  config.train.log_every = 100
  config.train.checkpoint_every = 1000
  config.train.keep_checkpoints = 3
  config.train.sample_every = 0         # an autoencoder cannot sample
  config.train.progress_bar = True

  config.eval = ml_collections.ConfigDict()
  config.eval.batch_size = 1000         # chunk size of the test reconstruction errors

  if arg == "basic":
    config.net.encoder_widths = ()
    config.net.decoder_widths = ()
  elif arg == "conv":
    config.net.arch = "conv"
    config.net.encoder_widths = (32, 64)  # 28x28 -> 14x14x32 -> 7x7x64
    config.net.decoder_widths = (64, 32)  # 7x7x64 -> 14x14x64 -> 28x28x32 -> 28x28xC logits
  elif arg == "sparse":
    config.net.latent_dim = 64
    config.loss.sparsity = "kl"
    config.loss.sparsity_weight = 1.0
    config.loss.sparsity_target = 0.05
  elif arg == "denoising":
    config.loss.noise = "gaussian"
    config.loss.noise_level = 0.5
  elif arg == "latent2":
    config.net.latent_dim = 2
  elif arg == "anomaly":
    config.data.train_labels = tuple(range(9))  # digit 9 is never seen in training
  elif arg == "tiny":
    config.net.encoder_widths = (64,)
    config.net.decoder_widths = (64,)
    config.net.latent_dim = 16
    config.optimizer.learning_rate = 1e-2  # large: it must learn in 100 steps
    config.data.batch_size = 50
    config.data.train_examples = 1000
    config.data.test_examples = 500
    config.train.num_steps = 100         # 5 epochs of the 1,000 images
    config.train.log_every = 10
    config.train.checkpoint_every = 50
    config.train.progress_bar = False
    config.eval.batch_size = 250
  return config
