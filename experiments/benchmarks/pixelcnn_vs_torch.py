"""PixelCNN train-step speed: the engine's update vs a PyTorch port of the same network, same
batch, same machine.

    python experiments/benchmarks/pixelcnn_vs_torch.py [--batches 100] [--steps 10] [--repeats 3]

The network is `experiments/configs/pixelcnn.py` (default): a 7×7 mask-A convolution to 64 maps,
7 residual blocks (ReLU, 1×1 to 32, ReLU, 3×3 mask B, ReLU, 1×1 to 64), two 1×1 layers of 64,
one logit per pixel; loss = the Bernoulli NLL summed over pixels, averaged over the batch, of a
fresh dynamic binarization of each batch; Adam 1e-3. gen_jax runs the family's `update` exactly
as `gen-jax train` does (`harness.time_engine_update`); PyTorch runs the port eagerly
(`loss.backward(); optimizer.step()`), the masks applied to the weights at every call as in the
usual PyTorch PixelCNN code. For one channel a 1×1 mask B is all ones, so the port's 1×1 layers
are plain convolutions. Each library in its own fresh process, `--steps` steps after a warm-up,
R times; the table gives the median examples/s and the ratio. Runs unchanged on a GPU machine.
"""

from __future__ import annotations

import harness


def time_jax(batch: int, steps: int, repeats: int, variant: str = "default") -> list[float]:
  from gen_jax import config as config_lib

  config = config_lib.override(config_lib.load("pixelcnn", variant), [f"data.batch_size={batch}"])
  return harness.time_engine_update(config, [{"image": x} for x in harness.images(batch, steps)], repeats)


def time_torch(batch: int, steps: int, repeats: int) -> list[float]:
  import torch
  import torch.nn as tnn
  import torch.nn.functional as F

  device = "cuda" if torch.cuda.is_available() else "cpu"

  class MaskedConv2d(tnn.Conv2d):
    def __init__(self, mask_type, c_in, c_out, k):
      super().__init__(c_in, c_out, k, padding=k // 2)
      mask = torch.ones_like(self.weight)  # [out, in, k, k]
      mask[:, :, k // 2, k // 2 + (mask_type == "B"):] = 0
      mask[:, :, k // 2 + 1:] = 0
      self.register_buffer("mask", mask)

    def forward(self, x):
      return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)

  class Block(tnn.Module):
    def __init__(self, features):
      super().__init__()
      h = features // 2
      self.reduce, self.conv, self.expand = tnn.Conv2d(features, h, 1), MaskedConv2d("B", h, h, 3), tnn.Conv2d(h, features, 1)

    def forward(self, x):
      return x + self.expand(F.relu(self.conv(F.relu(self.reduce(F.relu(x))))))

  class PixelCNN(tnn.Module):
    def __init__(self, features=64, blocks=7, out_features=64):
      super().__init__()
      self.first = MaskedConv2d("A", 1, features, 7)
      self.blocks = tnn.Sequential(*[Block(features) for _ in range(blocks)])
      self.out1, self.out2 = tnn.Conv2d(features, out_features, 1), tnn.Conv2d(out_features, 1, 1)

    def forward(self, x):
      return self.out2(F.relu(self.out1(F.relu(self.blocks(self.first(x))))))

  torch.manual_seed(0)
  model = PixelCNN().to(device)
  optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
  feed = [torch.from_numpy(x).permute(0, 3, 1, 2).contiguous().to(device) for x in harness.images(batch, steps)]

  def step(x):
    optimizer.zero_grad()
    bits = torch.bernoulli(x)
    loss = F.binary_cross_entropy_with_logits(model(bits), bits, reduction="sum") / len(x)
    loss.backward()
    optimizer.step()
    return loss

  return harness.time_torch_steps(step, feed, repeats)


if __name__ == "__main__":
  harness.main(__file__, time_jax, time_torch, __doc__, batches="100", steps=10)
