"""PixelRNN (van den Oord, Kalchbrenner & Kavukcuoglu 2016) on binarized MNIST: exact test NLL.

A 7×7 mask-A convolution to 2h maps, LSTM layers of h units with residual connections, two
masked 1×1 ReLU layers, one logit per pixel (gen_jax/autoregressive/pixelrnn.py).

  default   Row LSTM, 7 layers of h = 16 (1×3 input-to-state under mask B, width-3 state-to-state
            over the row above); Adam 1e-3, batch 100, 10 epochs. Published: 80.54 nats.
  diagonal  Diagonal BiLSTM, 7 layers of h = 16: the paper's best MNIST model (79.20 nats).
  tiny      seconds: for tests (Row LSTM; `--config.net.layer=diagonal_bilstm` for the other).
Every other key: pixelcnn.py.
"""

from pathlib import Path

from gen_jax.config import load_module

VARIANTS = ("default", "diagonal", "tiny")


def get_config(arg=None):
  arg = arg or "default"
  if arg not in VARIANTS:
    raise ValueError(f"unknown pixelrnn config {arg!r}; valid: {', '.join(VARIANTS)}")
  plain = load_module(Path(__file__).with_name("pixelcnn.py"))
  config = plain.get_config("default")
  config.model = "pixelrnn"
  del config.net.features, config.net.num_blocks, config.net.num_classes  # PixelCNN's, not used here
  config.net.layer = "row_lstm"        # "row_lstm" | "diagonal_bilstm"
  config.net.units = 16                # h: LSTM units; 2h maps between layers
  config.net.num_layers = 7            # LSTM layers, each with a residual 1×1 connection
  config.net.first_kernel = 7          # the mask-A convolution
  config.net.kernel = 3                # Row LSTM: width of K_is and K_ss
  config.net.out_features = 32         # the two masked 1×1 output layers
  if arg == "diagonal":
    config.net.layer = "diagonal_bilstm"
  elif arg == "tiny":
    plain.tiny(config)
  return config
