"""Autoregressive models of binary images: p(x) = Π_d p(x_d | x_<d), exact likelihoods.

Each model module exports `make(config, shape) -> BinaryAutoregressive` for images of shape
(H, W, C): the functions the autoregressive families need (see `gen_jax.autoregressive.common`).
NADE and MADE see the D = H·W·C pixels as a vector; PixelCNN and the gated PixelCNN as an image.
"""
