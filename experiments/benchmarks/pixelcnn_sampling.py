"""PixelCNN sampling speed: all D pixels in one jit against a Python loop of D jitted calls, and
the gated PixelCNN's row cache against its full network per pixel.

    python experiments/benchmarks/pixelcnn_sampling.py [--num 100] [--models pixelcnn,gated_pixelcnn]

Each model is its default config (`experiments/configs/<model>.py`) on 28×28×1 images with its
initial parameters (the time does not depend on the weights). Samplers:
  python loop  784 calls of the jitted one-pixel step `sample_step` (the whole network per pixel)
  compiled     `sample`: the same 784 network passes inside one `lax.fori_loop`
  cached       `sample_cached` (gated model): the vertical stack once per row, the horizontal
               stack per pixel on that row alone, in one jit
Every sampler draws the same images from the same uniforms (checked here). Times are one run
of each, compiled ahead (`jit(...).lower(...).compile()`, not timed); the table gives seconds for
`--num` images and the ratio to the Python loop.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from gen_jax import config as config_lib  # noqa: E402
from gen_jax import registry  # noqa: E402
from gen_jax.families.autoregressive import MODELS, uniforms  # noqa: E402

SHAPE = (28, 28, 1)


def samplers(model, params, u, labels):
  """name -> a function of no arguments that draws the images from u; all compiled beforehand."""
  D = int(np.prod(SHAPE))
  step = jax.jit(model.sample_step).lower(params, u, u, 0, **labels).compile()  # d is traced: one compile

  def python_loop():
    x = jnp.zeros_like(u)
    for d in range(D):
      x = step(params, x, u, d, **labels)
    return x

  ahead = lambda fn: jax.jit(fn).lower(params, u, **labels).compile()
  compiled = ahead(model.sample)
  out = {"python loop": python_loop, "compiled": lambda: compiled(params, u, **labels)}
  if model.sample_cached is not None:
    cached = ahead(model.sample_cached)
    out["cached"] = lambda: cached(params, u, **labels)
  return out


def timed(fn) -> tuple[float, np.ndarray]:
  start = time.perf_counter()
  x = np.asarray(jax.block_until_ready(fn()))
  return time.perf_counter() - start, x


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--num", type=int, default=100)
  parser.add_argument("--models", default="pixelcnn,gated_pixelcnn")
  args = parser.parse_args()
  print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}; {args.num} images of {SHAPE}")
  print("| model | sampler | seconds | images/s | vs the Python loop |")
  print("|---|---|---|---|---|")
  for name in args.models.split(","):
    config = config_lib.load(name)
    registry.build(config)  # the config's checks
    model = MODELS[name](config, SHAPE)
    D = int(np.prod(SHAPE))
    labels_for = (lambda n: {"labels": jnp.arange(n) % config.net.num_classes}) if model.conditional else (lambda n: {})
    params = model.init(jax.random.key(0), jnp.zeros((1, D)), **labels_for(1))
    u = uniforms(jax.random.key(1), args.num, D)
    results = {name: timed(fn) for name, fn in samplers(model, params, u, labels_for(args.num)).items()}
    base, reference = results["python loop"]
    for sampler, (seconds, x) in results.items():
      same = "" if np.array_equal(x, reference) else " (DIFFERENT IMAGES)"
      print(f"| {name} | {sampler} | {seconds:.1f} | {args.num / seconds:.2f} | **{base / seconds:.2f}x**{same} |",
            flush=True)


if __name__ == "__main__":
  main()
