"""CPU threads: XLA's own pool should have the cores while a computation runs.

On CPU, XLA's LAPACK custom calls (Cholesky factors and triangular solves of the D x D
covariances in EM) go through SciPy's OpenBLAS. After each call its worker threads busy-wait
for more work and take cores from XLA's thread pool, which runs everything else. On this
project's 2-core CPU that made EM with full covariances 1.6x slower (MNIST-PCA50 benchmark:
6.8 s -> 4.2 s once OpenBLAS was held to one thread). The LAPACK calls are on small matrices,
so one BLAS thread loses nothing.
"""

from __future__ import annotations

import contextlib

import jax


@contextlib.contextmanager
def xla_owns_the_cores():
  """Holds BLAS libraries (OpenBLAS, MKL) to one thread inside the block, on the CPU backend;
  also usable as a function decorator. Elsewhere (GPU, TPU) it does nothing."""
  if jax.default_backend() != "cpu":
    yield
    return
  from threadpoolctl import threadpool_limits

  with threadpool_limits(limits=1, user_api="blas"):
    yield
