"""DCGAN train-step speed (both players): the engine's update vs the same networks in PyTorch.

    python experiments/benchmarks/dcgan_vs_torch.py [--batches 64,256] [--steps 100] [--variants default,transpose,resize]

gen_jax runs `experiments/configs/dcgan.py` (variant `default`: sub-pixel upsampling;
`transpose`: DCGAN's transposed convolutions; `resize`: nearest x2 + 3x3 convolution)
exactly as `gen-jax train` does (`harness.time_engine_update`): one jitted step, the
discriminator's Adam step on a real batch and fresh fakes, then the generator's on fresh fakes.
PyTorch (eager, the PyTorch DCGAN tutorial's loop) trains the same networks: G = Linear(100 ->
7·7·64) BN ReLU, ConvTranspose 4x4/2 (64 -> 32) BN ReLU, ConvTranspose 4x4/2 (32 -> 1) tanh;
D = Conv 4x4/2 (1 -> 32) LeakyReLU(0.2), Conv 4x4/2 (32 -> 64) LeakyReLU(0.2), Linear -> 1;
BCE with logits, Adam 2e-4, β1 = 0.5. The tutorial generates the fakes once per step and
reuses them for the generator's update; gen_jax draws fresh fakes for the generator (one more
generator forward pass), so PyTorch does slightly less work per step.
Each library runs in its own fresh process on the same MNIST batches ([-1, 1]); the table gives
the median examples/s over the repeats and the ratio gen_jax / PyTorch.
"""

from __future__ import annotations

import harness


def time_jax(batch: int, steps: int, repeats: int, variant: str = "default") -> list[float]:
  from gen_jax import config as config_lib

  overrides = [f"data.batch_size={batch}"]
  if variant == "resize":
    variant, overrides = "default", [*overrides, "net.upsample=resize"]
  config = config_lib.override(config_lib.load("dcgan", variant), overrides)
  return harness.time_engine_update(config, harness.images(batch, steps, "symmetric", with_labels=True), repeats)


def time_torch(batch: int, steps: int, repeats: int) -> list[float]:
  import torch
  import torch.nn as tnn

  device = "cuda" if torch.cuda.is_available() else "cpu"
  torch.manual_seed(0)
  generator = tnn.Sequential(
      tnn.Linear(100, 7 * 7 * 64), tnn.Unflatten(1, (64, 7, 7)), tnn.BatchNorm2d(64), tnn.ReLU(),
      tnn.ConvTranspose2d(64, 32, 4, 2, 1), tnn.BatchNorm2d(32), tnn.ReLU(),
      tnn.ConvTranspose2d(32, 1, 4, 2, 1), tnn.Tanh()).to(device)
  discriminator = tnn.Sequential(
      tnn.Conv2d(1, 32, 4, 2, 1), tnn.LeakyReLU(0.2), tnn.Conv2d(32, 64, 4, 2, 1), tnn.LeakyReLU(0.2),
      tnn.Flatten(), tnn.Linear(7 * 7 * 64, 1)).to(device)
  for m in (*generator.modules(), *discriminator.modules()):  # DCGAN's N(0, 0.02) weights
    if isinstance(m, (tnn.Conv2d, tnn.ConvTranspose2d, tnn.Linear)):
      tnn.init.normal_(m.weight, 0.0, 0.02)
  opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
  opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
  bce = tnn.BCEWithLogitsLoss()
  feed = [torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).to(device)
          for x in harness.images(batch, steps, "symmetric")]  # NCHW
  ones, zeros = torch.ones(batch, 1, device=device), torch.zeros(batch, 1, device=device)

  def step(real):
    fake = generator(torch.randn(batch, 100, device=device))
    opt_d.zero_grad()
    d_loss = bce(discriminator(real), ones) + bce(discriminator(fake.detach()), zeros)
    d_loss.backward()
    opt_d.step()
    opt_g.zero_grad()
    g_loss = bce(discriminator(fake), ones)  # non-saturating
    g_loss.backward()
    opt_g.step()
    return g_loss

  return harness.time_torch_steps(step, feed, repeats)


if __name__ == "__main__":
  harness.main(__file__, time_jax, time_torch, __doc__, batches="64,256", steps=100,
               variants="default,transpose,resize")
