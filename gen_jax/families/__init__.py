"""Model families: one module each, registered with `gen_jax.registry.register`."""
