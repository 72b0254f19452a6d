"""Diffusion U-Net train-step speed: the engine's update vs the book's PyTorch code, same batch.

    python experiments/benchmarks/ddpm_vs_torch.py [--batches 128] [--steps 20] [--variants dlfs5,default]

gen_jax runs `experiments/configs/ddpm.py` (`dlfs5`: the book's U-Net 64-128-256 with BatchNorm
and the time embedding added to each block's input; `default`: the smaller GroupNorm net) as
`gen-jax train` does (`harness.time_engine_update`: jit, donated state, sharded batches).
PyTorch runs the book's ch. 9 training step, eager: t ~ U{1..T}, x_t = add_noise(x, t),
MSE(model(x_t, t), noise), backward, Adam 1e-3 (`book_unet_torch.py`). Each library in its own
fresh process on the same MNIST batches in [-1, 1]; median examples/s over the repeats.
Sampling speed: `ddpm_sampling_vs_torch.py`.
"""

from __future__ import annotations

import harness


def time_jax(batch: int, steps: int, repeats: int, variant: str = "dlfs5") -> list[float]:
  from gen_jax import config as config_lib

  config = config_lib.override(config_lib.load("ddpm", variant), [f"data.batch_size={batch}"])
  return harness.time_engine_update(config, harness.images(batch, steps, "symmetric", with_labels=True), repeats)


def time_torch(batch: int, steps: int, repeats: int) -> list[float]:
  import torch
  import torch.nn.functional as F

  import book_unet_torch

  device = "cuda" if torch.cuda.is_available() else "cpu"
  torch.manual_seed(0)
  model, diffuser = book_unet_torch.build(device)
  optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
  feed = [torch.from_numpy(b["image"].transpose(0, 3, 1, 2).copy()).to(device)
          for b in harness.images(batch, steps, "symmetric", with_labels=True)]

  def step(x):
    optimizer.zero_grad()
    t = torch.randint(1, diffuser.num_timesteps + 1, (len(x),), device=device)
    x_noisy, noise = diffuser.add_noise(x, t)
    loss = F.mse_loss(model(x_noisy, t), noise)
    loss.backward()
    optimizer.step()
    return loss

  return harness.time_torch_steps(step, feed, repeats)


if __name__ == "__main__":
  harness.main(__file__, time_jax, time_torch, __doc__, batches="128", steps=20, variants="dlfs5,default")
