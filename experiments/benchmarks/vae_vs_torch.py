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

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MNIST = Path(os.environ.get("GEN_JAX_DATA_DIR", ROOT.parent / "shared" / "data" / "mnist"))


def images(batch: int, steps: int):
  """[steps, batch, 28, 28, 1] float32 in [0, 1]: the batches both libraries train on."""
  sys.path.insert(0, str(ROOT))
  from gen_jax import data

  train = data.load_mnist(MNIST)["train"]
  batches = data.Batches({"image": data.scale_images(train["image"], "unit")}, batch, seed=0)
  return [batches.batch(s)["image"] for s in range(steps)]


def time_jax(batch: int, steps: int, repeats: int) -> list[float]:
  import jax

  from gen_jax import config as config_lib
  from gen_jax import registry
  from gen_jax.train import loop, sharding

  config = config_lib.override(config_lib.load("vae", "dlfs5"), [f"data.batch_size={batch}"])
  family, mesh = registry.build(config), sharding.make_mesh()
  feed = [{"image": x} for x in images(batch, steps)]
  keys = loop.run_keys(0)
  state = sharding.replicate(family.init(keys.init, feed[0]), mesh)
  update = loop.compile_update(family.update, mesh)
  state, metrics = update(state, sharding.shard_batch(feed[0], mesh), keys.train)  # compile
  jax.block_until_ready(metrics)
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    for b in feed:
      state, metrics = update(state, sharding.shard_batch(b, mesh), keys.train)
    jax.block_until_ready((state, metrics))
    times.append(time.perf_counter() - start)
  return times


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
  feed = [torch.from_numpy(x.reshape(len(x), -1)).to(device) for x in images(batch, steps)]

  def step(x):
    optimizer.zero_grad()
    loss = model.get_loss(x)
    loss.backward()
    optimizer.step()
    return loss

  step(feed[0]).item()  # warm-up
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    for x in feed:
      loss = step(x)
    loss.item()
    if device == "cuda":
      torch.cuda.synchronize()
    times.append(time.perf_counter() - start)
  return times


def device_name(library: str) -> str:
  if library == "jax":
    import jax
    return f"jax {jax.__version__} on {jax.devices()[0].device_kind}"
  import torch
  return f"torch {torch.__version__} on {'cuda' if torch.cuda.is_available() else 'cpu'} ({torch.get_num_threads()} threads)"


def worker(library: str, batch: int, steps: int, repeats: int) -> None:
  times = (time_jax if library == "jax" else time_torch)(batch, steps, repeats)
  print(json.dumps({"times": times, "device": device_name(library)}))


def run(library: str, batch: int, steps: int, repeats: int) -> dict:
  env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
  out = subprocess.run([sys.executable, __file__, "--worker", library, "--batches", str(batch), "--steps", str(steps),
                        "--repeats", str(repeats)], capture_output=True, text=True, env=env, check=True)
  return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--batches", default="128,1024")
  parser.add_argument("--steps", type=int, default=300)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
  args = parser.parse_args()
  batches = [int(b) for b in args.batches.split(",")]
  if args.worker:
    return worker(args.worker, batches[0], args.steps, args.repeats)
  print("| batch | gen_jax examples/s | PyTorch examples/s | ratio | devices |")
  print("|---|---|---|---|---|")
  for batch in batches:
    res = {lib: run(lib, batch, args.steps, args.repeats) for lib in ("jax", "torch")}
    rate = {lib: batch * args.steps / sorted(r["times"])[len(r["times"]) // 2] for lib, r in res.items()}
    print(f"| {batch} | {rate['jax']:,.0f} | {rate['torch']:,.0f} | **{rate['jax'] / rate['torch']:.2f}x** | "
          f"{res['jax']['device']}; {res['torch']['device']} |", flush=True)


if __name__ == "__main__":
  main()
