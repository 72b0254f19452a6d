"""Data parallelism with `jax.sharding`: a Mesh over a `data` axis, state replicated, batch split.

Single host: the mesh spans all local devices. Several hosts: call `initialize_multihost()`
first (it runs `jax.distributed.initialize()`); the mesh then spans every device of every
host, each host feeds its own slice of the global batch, and jit inserts the collectives.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = "data"


def initialize_multihost() -> None:
  """`jax.distributed.initialize()` from the cluster environment (SLURM, TPU pods, or the
  JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID variables)."""
  jax.distributed.initialize()


def make_mesh(devices=None) -> Mesh:
  devices = jax.devices() if devices is None else devices
  return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def data_sharded(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P(DATA_AXIS))


def check_batch_size(batch_size: int, mesh: Mesh) -> None:
  if batch_size % mesh.size:
    raise ValueError(f"batch size {batch_size} must be divisible by the number of devices "
                     f"({mesh.size}); change data.batch_size or the device count")


def shard_batch(global_batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
  """Places a host batch on the mesh, split along the leading axis.

  Every host computes the same global batch (its order comes from (seed, step)) and hands
  over only its own contiguous slice, so several hosts agree without communication.
  """
  sharding = data_sharded(mesh)
  n_proc, index = jax.process_count(), jax.process_index()

  def put(x):
    local = len(x) // n_proc
    return jax.make_array_from_process_local_data(sharding, x[index * local:(index + 1) * local],
                                                  global_shape=x.shape)

  return jax.tree.map(put, global_batch)


def replicate(tree, mesh: Mesh):
  """Places a pytree on every device of the mesh."""
  return jax.device_put(tree, replicated(mesh))
