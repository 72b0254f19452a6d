"""VAE train-step speed: the engine's update vs the book's PyTorch code, same batch, same machine.

    python experiments/benchmarks/vae_vs_torch.py [--batches 128,1024] [--steps 300] [--repeats 3]

The network is "Deep Learning from Scratch 5"'s VAE (ch. 8): 784-200-20 ReLU encoder, 20-200-784
sigmoid decoder, loss = MSE-sum + KL over the batch, Adam 3e-4. gen_jax runs
`experiments/configs/vae.py:dlfs5` exactly as `gen-jax train` does: the family's `update`
compiled by the loop (`loop.compile_update`: jit, state donated, on the data mesh) and fed
sharded batches; PyTorch runs the book's eager code (`loss.backward(); optimizer.step()`).
Both train on the same MNIST images, from the same batch order. Each library runs in its own
fresh process (no thread pool of one spins while the other computes), `--steps` steps after a
warm-up (compilation for JAX), R times; the table gives the median examples/s and the ratio.
Runs unchanged on a GPU machine (JAX on the GPU; PyTorch on CUDA when it has it).
"""

from __future__ import annotations

import harness


def time_jax(batch: int, steps: int, repeats: int, variant: str = "dlfs5") -> list[float]:
  from gen_jax import config as config_lib

  config = config_lib.override(config_lib.load("vae", "dlfs5" if variant == "default" else variant),
                               [f"data.batch_size={batch}"])
  return harness.time_engine_update(config, [{"image": x} for x in harness.images(batch, steps)], repeats)


def time_torch(batch: int, steps: int, repeats: int) -> list[float]:
  import torch
  import torch.nn as tnn
  import torch.nn.functional as F

  device = "cuda" if torch.cuda.is_available() else "cpu"

  class Encoder(tnn.Module):  # the book's code (DLFS5 step08)
    def __init__(self, input_dim, hidden_dim, latent_dim):
      super().__init__()
      self.linear = tnn.Linear(input_dim, hidden_dim)
      self.linear_mu = tnn.Linear(hidden_dim, latent_dim)
      self.linear_logvar = tnn.Linear(hidden_dim, latent_dim)

    def forward(self, x):
      h = F.relu(self.linear(x))
      mu, logvar = self.linear_mu(h), self.linear_logvar(h)
      return mu, torch.exp(0.5 * logvar)

  class Decoder(tnn.Module):
    def __init__(self, latent_dim, hidden_dim, output_dim):
      super().__init__()
      self.linear1 = tnn.Linear(latent_dim, hidden_dim)
      self.linear2 = tnn.Linear(hidden_dim, output_dim)

    def forward(self, z):
      return F.sigmoid(self.linear2(F.relu(self.linear1(z))))

  class VAE(tnn.Module):
    def __init__(self, input_dim, hidden_dim, latent_dim):
      super().__init__()
      self.encoder, self.decoder = Encoder(input_dim, hidden_dim, latent_dim), Decoder(latent_dim, hidden_dim, input_dim)

    def get_loss(self, x):
      mu, sigma = self.encoder(x)
      z = mu + torch.randn_like(sigma) * sigma
      x_hat = self.decoder(z)
      batch_size = len(x)
      L1 = F.mse_loss(x_hat, x, reduction="sum")
      L2 = -torch.sum(1 + torch.log(sigma ** 2) - mu ** 2 - sigma ** 2)
      return (L1 + L2) / batch_size

  torch.manual_seed(0)
  model = VAE(784, 200, 20).to(device)
  optimizer = torch.optim.Adam(model.parameters(), lr=3e-4)
  feed = [torch.from_numpy(x.reshape(len(x), -1)).to(device) for x in harness.images(batch, steps)]

  def step(x):
    optimizer.zero_grad()
    loss = model.get_loss(x)
    loss.backward()
    optimizer.step()
    return loss

  return harness.time_torch_steps(step, feed, repeats)


if __name__ == "__main__":
  harness.main(__file__, time_jax, time_torch, __doc__, batches="128,1024", steps=300)
