"""Limit the BLAS thread pool around work that runs its own parallelism or many small products.

OpenBLAS threads busy-wait between calls: around small matrix products (the blocked local
fields of a sweep) or inside code that already runs worker threads or MPI ranks, they make the
cores oversubscribed and the products many times slower. :func:`blas_threads` sets the pool size
for a block of code through threadpoolctl and restores it afterwards.
"""
import contextlib

from threadpoolctl import ThreadpoolController

_CONTROLLER = None


@contextlib.contextmanager
def blas_threads(n):
    """Run the block with every BLAS library of the process limited to ``n`` threads
    (``None``: no limit, the block runs as it is)."""
    global _CONTROLLER
    if n is None:
        yield
        return
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    with _CONTROLLER.limit(limits=int(n), user_api="blas"):
        yield
