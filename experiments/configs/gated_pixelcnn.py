"""The gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
Decoders") on binarized MNIST, conditional on the digit: exact test NLL of p(x | y).

Vertical and horizontal stacks of gated layers tanh(W_f ∗ x + V_f h) ⊙ σ(W_g ∗ x + V_g h) with
the label embedding h in every gate, a residual horizontal stack, no blind spot. Sampling uses
the row cache (`sample.sampler = "cached"`): the vertical stack once per row, the horizontal
stack per pixel on that row alone; `"full"` runs the whole network once per pixel.

  default        conditional on the label, p = 32 maps per stack, a 7×7 first layer, 7 layers of
                 3×3, two masked 1×1 layers of 64; Adam 1e-3, batch 100, 10 epochs.
  unconditional  the same network without labels.
  tiny           seconds: for tests.
Every other key: pixelcnn.py.
"""

from pathlib import Path

from gen_jax.config import load_module

VARIANTS = ("default", "unconditional", "tiny")


def get_config(arg=None):
  arg = arg or "default"
  if arg not in VARIANTS:
    raise ValueError(f"unknown gated_pixelcnn config {arg!r}; valid: {', '.join(VARIANTS)}")
  plain = load_module(Path(__file__).with_name("pixelcnn.py"))
  config = plain.get_config("default")
  config.model = "gated_pixelcnn"
  config.net.features = 32             # p: maps of each stack
  config.net.num_blocks = 0            # (plain model only)
  config.net.num_layers = 7            # gated layers
  config.net.out_features = 64
  config.net.num_classes = 10          # the label h of every gate; 0: unconditional
  config.sample.sampler = "cached"     # "cached": vertical stack once per row; "full"
  if arg == "unconditional":
    config.net.num_classes = 0
  elif arg == "tiny":
    plain.tiny(config)
  return config
