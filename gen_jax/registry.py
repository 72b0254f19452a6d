"""Model name -> family builder. Each family module registers itself on import.

A *family* is the one seam every model plugs into (see `Family`). The training loop only
ever talks to a `Family`; it never branches on the model's name.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable, Optional

import ml_collections

from gen_jax import precision

# Family modules imported by `get`/`names` so that they can register themselves.
_FAMILY_MODULES = ("gen_jax.families.classifier", "gen_jax.families.gaussian", "gen_jax.families.gmm",
                   "gen_jax.families.autoencoder", "gen_jax.families.vae", "gen_jax.families.aae",
                   "gen_jax.families.gan", "gen_jax.families.ddpm",
                   "gen_jax.families.noisy_classifier", "gen_jax.families.autoregressive")

_BUILDERS: dict[str, Callable[..., "Family"]] = {}


class CannotSample(RuntimeError):
  """Raised when a model that has no generative sampler is asked for samples."""


@dataclasses.dataclass(frozen=True)
class Family:
  """What a model family provides to the engine.

  init(key, example_batch) -> TrainState
  update(state, batch, key) -> (state, metrics)     pure; the loop jit-compiles it once.
      `key` is the run's train key; the update derives its per-step key with
      `fold_in(key, state.step)` inside jit.
  evaluate(state, dataset, key) -> dict[str, float]  test metrics on the held-out split.
  sample(state, key, num, labels=None) -> uint8 images [N, H, W, C] (or float points [N, D]
      for models of tabular data), or None if the family cannot sample.
  report(state, train_split, workdir) -> None   optional: figures and files written at the end.
  A family may put `converged` in its metrics: the loop then stops early (EM does).

  Precision policy (`gen_jax.precision`): `evaluate` and `report` give reported values, so
  they always run their float32 products at full precision; this class applies it. `update`
  runs at `config.matmul_precision` unless the family makes it exact (EM and MLE do).
  """

  name: str
  init: Callable[..., Any]
  update: Callable[..., Any]
  evaluate: Callable[..., dict]
  sample: Optional[Callable[..., Any]] = None
  conditional: bool = False  # whether `sample` takes `labels`
  report: Optional[Callable[..., None]] = None

  def __post_init__(self):
    object.__setattr__(self, "evaluate", precision.exact(self.evaluate))
    if self.report is not None:
      object.__setattr__(self, "report", precision.exact(self.report))

  def draw(self, state, key, num: int, labels=None):
    """`sample`, or a clear `CannotSample` error for families without a sampler."""
    if self.sample is None:
      raise CannotSample(f"model {self.name!r} is not a generative model: it cannot sample.")
    if labels is not None and not self.conditional:
      raise ValueError(f"model {self.name!r} is unconditional: --labels is not accepted.")
    return self.sample(state, key, num, labels=labels)


def register(name: str):
  """Decorator: `@register("vae") def build(config, *, axis_name=None) -> Family`."""

  def wrap(builder):
    if name in _BUILDERS and _BUILDERS[name] is not builder:
      raise ValueError(f"model {name!r} is registered twice")
    _BUILDERS[name] = builder
    return builder

  return wrap


def _load_all() -> None:
  for module in _FAMILY_MODULES:
    importlib.import_module(module)


def names() -> list[str]:
  _load_all()
  return sorted(_BUILDERS)


def build(config: ml_collections.ConfigDict, *, axis_name: str | None = None) -> Family:
  """The family for `config.model`; `axis_name` makes a pmap-ready update."""
  _load_all()
  name = config.model
  if name not in _BUILDERS:
    raise ValueError(f"unknown model {name!r}; valid models: {', '.join(names())}")
  return _BUILDERS[name](config, axis_name=axis_name)
