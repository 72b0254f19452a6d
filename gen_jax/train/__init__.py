"""The one training engine: state, pure steps, sharding, checkpoints, logging, loop."""

from gen_jax.train.state import TrainState
from gen_jax.train.step import make_optimizer, make_update

__all__ = ["TrainState", "make_optimizer", "make_update"]
