"""Diffusion maths: noise schedules and q(x_t | x_0), compiled samplers (DDPM, DDIM, guidance),
the variational bound. `gen_jax.families.ddpm` adapts them to the engine."""
