"""MNIST from a folder of the four original IDX files, or from TFDS.

Where the data come from, in order:
  1. `data_dir` (the `--data-dir` flag), else the `GEN_JAX_DATA_DIR` environment variable:
     a folder with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte
     and t10k-labels-idx1-ubyte, each gzipped (`.gz`) or not;
  2. otherwise TFDS: `tfds.data_source("mnist")`, which downloads on first use.
Offline with nothing prepared, TFDS would retry its download for minutes; we refuse within
seconds instead, with a message naming both ways of providing the data.
"""

from __future__ import annotations

import gzip
import os
import socket
from pathlib import Path

import numpy as np

_FILES = {
    ("train", "image"): "train-images-idx3-ubyte",
    ("train", "label"): "train-labels-idx1-ubyte",
    ("test", "image"): "t10k-images-idx3-ubyte",
    ("test", "label"): "t10k-labels-idx1-ubyte",
}
_MAGIC = {"image": 2051, "label": 2049}
_HOW = (
    "Provide MNIST in one of two ways:\n"
    "  (a) a folder with the four original IDX files (train-images-idx3-ubyte.gz, "
    "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz), "
    "given by --data-dir DIR or the GEN_JAX_DATA_DIR environment variable; or\n"
    "  (b) network access, so that TFDS can download it once (tfds.data_source('mnist'))."
)


class DataNotFoundError(FileNotFoundError):
  """The data set is neither in the given folder nor obtainable through TFDS."""


def read_idx(path: Path, kind: str) -> np.ndarray:
  """Parses one IDX file (gzipped or raw): images -> uint8 [N, 28, 28, 1], labels -> int32 [N]."""
  opener = gzip.open if str(path).endswith(".gz") else open
  with opener(path, "rb") as f:
    raw = f.read()
  magic = int.from_bytes(raw[0:4], "big")
  if magic != _MAGIC[kind]:
    raise ValueError(f"{path}: IDX magic {magic}, expected {_MAGIC[kind]} for {kind}s")
  count = int.from_bytes(raw[4:8], "big")
  if kind == "label":
    labels = np.frombuffer(raw, np.uint8, count, offset=8)
    return labels.astype(np.int32)
  rows, cols = int.from_bytes(raw[8:12], "big"), int.from_bytes(raw[12:16], "big")
  if len(raw) != 16 + count * rows * cols:
    raise ValueError(f"{path}: truncated IDX file ({len(raw)} bytes for {count}x{rows}x{cols})")
  return np.frombuffer(raw, np.uint8, count * rows * cols, offset=16).reshape(count, rows, cols, 1)


def _find(folder: Path, stem: str) -> Path | None:
  for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
    if (folder / name).is_file():
      return folder / name
  return None


def load_from_folder(folder: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
  folder = Path(folder).expanduser()
  paths = {key: _find(folder, stem) for key, stem in _FILES.items()}
  missing = [_FILES[k] for k, p in paths.items() if p is None]
  if missing:
    raise DataNotFoundError(f"MNIST: {folder} lacks {', '.join(missing)} (.gz or raw).\n{_HOW}")
  data = {"train": {}, "test": {}}
  for (split, kind), path in paths.items():
    data[split][kind] = read_idx(path, kind)
  for split, arrays in data.items():
    if len(arrays["image"]) != len(arrays["label"]):
      raise ValueError(f"MNIST {split}: {len(arrays['image'])} images but {len(arrays['label'])} labels")
  return data


def _network_reachable(host="storage.googleapis.com", port=443, timeout=3.0) -> bool:
  if os.environ.get("GEN_JAX_OFFLINE"):
    return False
  try:
    socket.create_connection((host, port), timeout=timeout).close()
    return True
  except OSError:
    return False


def load_from_tfds() -> dict[str, dict[str, np.ndarray]]:
  import tensorflow_datasets as tfds  # heavy import: only when needed

  try:
    builder = tfds.builder("mnist")
    prepared = builder.is_prepared()
  except Exception:  # noqa: BLE001 - a broken TFDS setup counts as "not prepared"
    prepared = False
  if not prepared and not _network_reachable():
    raise DataNotFoundError(f"MNIST is not prepared for TFDS and the network is unreachable.\n{_HOW}")
  data = {}
  for split in ("train", "test"):
    source = tfds.data_source("mnist", split=split)
    records = [source[i] for i in range(len(source))]
    data[split] = {
        "image": np.stack([r["image"] for r in records]).astype(np.uint8),
        "label": np.asarray([r["label"] for r in records], np.int32),
    }
  return data


def load_mnist(data_dir: str | os.PathLike | None = None) -> dict[str, dict[str, np.ndarray]]:
  """{"train"|"test": {"image": uint8 [N, 28, 28, 1], "label": int32 [N]}}."""
  data_dir = data_dir or os.environ.get("GEN_JAX_DATA_DIR")
  if data_dir:
    if not Path(data_dir).expanduser().is_dir():
      raise DataNotFoundError(f"MNIST: data folder {data_dir} does not exist.\n{_HOW}")
    return load_from_folder(data_dir)
  return load_from_tfds()


def write_idx(folder: str | os.PathLike, data: dict[str, dict[str, np.ndarray]]) -> None:
  """Writes `data` as the four gzipped IDX files (for tests and for caching a TFDS copy)."""
  folder = Path(folder)
  folder.mkdir(parents=True, exist_ok=True)
  for (split, kind), stem in _FILES.items():
    array = np.asarray(data[split][kind]).astype(np.uint8)
    dims = array.shape[:3] if kind == "image" else array.shape[:1]
    header = _MAGIC[kind].to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    with gzip.open(folder / f"{stem}.gz", "wb") as f:
      f.write(header + array.tobytes())
