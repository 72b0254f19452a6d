"""Configs: Python files `experiments/configs/<model>.py` with `get_config(arg)`.

`--config NAME` picks the variant `arg=NAME` of the model's file; `--config path.py[:arg]`
loads any file. `--config.KEY=VALUE` overrides one key; an unknown key is an error that lists
the valid ones.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
from pathlib import Path

import ml_collections

# Keys that may change when a run resumes: they steer the loop, not the maths.
RESUMABLE_KEYS = (
    "data.data_dir",
    "train.num_epochs",
    "train.num_steps",
    "train.log_every",
    "train.checkpoint_every",
    "train.keep_checkpoints",
    "train.sample_every",
    "train.progress_bar",
)
# Whole blocks that may change on resume (and that `gen-jax eval|sample --config.eval.KEY=...`
# / `--config.sample.KEY=...` may override): evaluation and sampling settings never touch the
# trained state.
RESUMABLE_PREFIXES = ("eval.", "sample.")


def config_dir() -> Path:
  """`experiments/configs` of the checkout (override with GEN_JAX_CONFIG_DIR)."""
  env = os.environ.get("GEN_JAX_CONFIG_DIR")
  if env:
    return Path(env)
  return Path(__file__).resolve().parent.parent / "experiments" / "configs"


def load_module(path: str | Path):
  """The config file at `path` as a module (a config file builds on another with it)."""
  path = Path(path)
  spec = importlib.util.spec_from_file_location(f"gen_jax_config_{path.stem}", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def load(model: str, name_or_file: str | None = None) -> ml_collections.ConfigDict:
  """The config of `model` for variant `name_or_file` (a name, or `file.py[:arg]`)."""
  if name_or_file and (name_or_file.endswith(".py") or ".py:" in name_or_file):
    file, _, arg = name_or_file.partition(":")
    path = Path(file)
  else:
    path, arg = config_dir() / f"{model}.py", name_or_file
  if not path.is_file():
    available = sorted(p.stem for p in config_dir().glob("*.py"))
    raise FileNotFoundError(f"no config file {path}; configs exist for: {', '.join(available)}")
  config = load_module(path).get_config(arg or None)
  if config.model != model:
    raise ValueError(f"config {path} is for model {config.model!r}, not {model!r}")
  return config


def _leaf_keys(config, prefix="") -> list[str]:
  keys = []
  for key, value in config.items():
    full = f"{prefix}{key}"
    if isinstance(value, ml_collections.ConfigDict):
      keys += _leaf_keys(value, full + ".")
    else:
      keys.append(full)
  return keys


def _parse_value(text: str, old):
  if isinstance(old, str):
    return text
  try:
    value = ast.literal_eval(text)
  except (ValueError, SyntaxError):
    value = text
  if isinstance(old, float) and isinstance(value, int) and not isinstance(value, bool):
    value = float(value)
  if isinstance(old, tuple) and isinstance(value, list):
    value = tuple(value)
  return value


def override(config: ml_collections.ConfigDict, assignments: list[str]) -> ml_collections.ConfigDict:
  """Applies `KEY=VALUE` strings (dotted keys) to a copy of `config`."""
  config = ml_collections.ConfigDict(config.to_dict())
  valid = _leaf_keys(config)
  for assignment in assignments:
    key, sep, text = assignment.partition("=")
    if not sep:
      raise ValueError(f"override {assignment!r} must look like KEY=VALUE")
    if key not in valid:
      raise KeyError(f"unknown config key {key!r}; valid keys: {', '.join(valid)}")
    *parents, leaf = key.split(".")
    node = config
    for parent in parents:
      node = node[parent]
    old = node[leaf]
    value = _parse_value(text, old)
    if old is not None and type(value) is not type(old):
      raise TypeError(f"config key {key!r} expects {type(old).__name__}, got {text!r}")
    node[leaf] = value
  return config


def is_structural(key: str) -> bool:
  """Whether a dotted config key must match for a checkpoint to be restored."""
  return key not in RESUMABLE_KEYS and not key.startswith(RESUMABLE_PREFIXES)


def structural(config: ml_collections.ConfigDict) -> dict:
  """The config without the keys that may change on resume (see RESUMABLE_KEYS)."""
  flat = {k: v for k, v in _flatten(config.to_dict()).items() if is_structural(k)}
  return json.loads(json.dumps(flat, default=str))


def _flatten(tree: dict, prefix="") -> dict:
  out = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      out.update(_flatten(value, f"{prefix}{key}."))
    else:
      out[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
  return out


def save_json(config: ml_collections.ConfigDict, path: Path) -> None:
  Path(path).write_text(json.dumps(config.to_dict(), indent=2, sort_keys=True, default=list) + "\n")


def load_json(path: Path) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(json.loads(Path(path).read_text()))
