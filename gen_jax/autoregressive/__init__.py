"""Autoregressive models of binary images: p(x) = Π_d p(x_d | x_<d), exact likelihoods.

Each model module exports `make(net_config, num_inputs) -> BinaryAutoregressive`, the four
functions the `nade`/`made` families need (see `gen_jax.autoregressive.common`).
"""
