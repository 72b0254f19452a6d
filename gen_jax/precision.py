"""The precision policy: every reported or algorithmic value is computed in full float32.

XLA's default float32 matrix product is not float32 everywhere. NVIDIA GPUs since Ampere
multiply float32 operands in TF32 (a 10-bit mantissa), TPUs in one bfloat16 pass (8 bits);
CPUs ignore the setting. A log-likelihood, an EM statistic or a Fréchet distance computed
that way can be wrong in its third digit (issue 7: float32 EM on MNIST-PCA50 ended at -0.598
instead of -31.474 on an H100) while every test on a CPU passes. So:

1. **Values are exact.** A function whose *value* is a result — EM's E-step and statistics,
   log-densities (`log_prob`, `score`, `predict`), likelihood bounds, evaluation metrics, the
   judge's features behind the classifier FID — runs its float32 products (`dot_general` and
   convolutions) at `HIGHEST` precision: decorate it with `@exact`. Put the decorator inside
   `jax.jit` (`jax.jit(exact(f))`), or around a host function that calls jitted ones: the
   scope holds while they are traced.
2. **The engine applies rule 1 itself** to every family's `evaluate` and `report`
   (`registry.Family`), so a new family cannot forget it. EM and MLE *updates* are
   algorithmic too: their families decorate them.
3. **Training may be fast.** Network updates keep XLA's default unless the config asks for
   another (`config.matmul_precision`: "default", "high", "highest", ...), applied by the
   loop through `scope`.

CPU tests cannot see the difference by value, so they read the lowered StableHLO:
`loose_products(jax.jit(f).lower(...).as_text())` lists every float32 product of a program
that is not at full precision.
"""

from __future__ import annotations

import contextlib
import functools
import re
from typing import Callable, TypeVar

import jax

F = TypeVar("F", bound=Callable)

# The names `jax.default_matmul_precision` accepts; "default" leaves the platform's default.
MATMUL_PRECISIONS = ("default", "high", "highest", "bfloat16", "tensorfloat32", "float32", "fastest")


def check(name: str) -> str:
  """`name` if it is a valid `matmul_precision`, else a ValueError listing the valid ones."""
  if name not in MATMUL_PRECISIONS:
    raise ValueError(f"matmul_precision must be one of {', '.join(MATMUL_PRECISIONS)}; got {name!r}")
  return name


def scope(name: str):
  """A context in which traced float32 products use `name` precision ("default": unchanged)."""
  if check(name) == "default":
    return contextlib.nullcontext()
  return jax.default_matmul_precision(name)


def exact(fn: F) -> F:
  """`fn` with every float32 product it traces at full float32 precision (HIGHEST).

  Idempotent: decorating twice adds nothing. An inner `exact` wins over an outer `scope`
  (the innermost setting is the one in force while a product is traced).
  """
  if getattr(fn, "__exact_float32__", False):
    return fn

  @functools.wraps(fn)
  def wrapped(*args, **kwargs):
    with jax.default_matmul_precision("highest"):
      return fn(*args, **kwargs)

  wrapped.__exact_float32__ = True
  return wrapped  # type: ignore[return-value]


_PRODUCT = re.compile(r"stablehlo\.(dot_general|convolution)\b")
_FLOAT32 = re.compile(r"tensor<(?:[^>]*x)?f32>")
_PRECISION = re.compile(r"precision = \[([^\]]*)\]|#stablehlo<precision (\w+)>")


def loose_products(hlo_text: str) -> list[str]:
  """The float32 `dot_general`/`convolution` ops in StableHLO text whose precision is not
  HIGHEST (or that name none, which means DEFAULT). Products of other types are skipped:
  float64 has no reduced mode and integers are exact."""
  loose = []
  for line in hlo_text.splitlines():
    if not _PRODUCT.search(line) or line.lstrip().startswith("#loc") or not _FLOAT32.search(line):
      continue
    values = [v.strip() for m in _PRECISION.finditer(line) for v in (m.group(1) or m.group(2)).split(",")]
    if not values or any(v != "HIGHEST" for v in values):
      loose.append(line.strip())
  return loose
