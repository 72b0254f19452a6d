"""Reusable Flax Linen layers (no losses)."""

from gen_jax.nn.coders import Decoder, Encoder, ImageShape
from gen_jax.nn.conv import ConvNet
from gen_jax.nn.mlp import MLP

__all__ = ["ConvNet", "Decoder", "Encoder", "ImageShape", "MLP"]
