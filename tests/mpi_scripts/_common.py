"""Shared pieces of the scripts that tests/test_mpi.py starts under ``mpiexec -n P``.

Each script is run as ``mpiexec -n P python tests/mpi_scripts/<name>.py ARGS``; this folder is
then the script's ``sys.path[0]``, so ``import _common`` works. Results are written by rank 0
only (``.npz`` or one line on stdout) and checked by the test, which also owns the timeout.
"""
import os

import numpy as np

import inverse_ising as ii
from inverse_ising.backend import get_backend


def small_pairwise(n=8, seed=123):
    """A small, moderately coupled pairwise model (fields ~ ±0.3, couplings ~ ±0.25)."""
    rng = np.random.default_rng(seed)
    h = rng.normal(0.0, 0.3, size=n)
    J = rng.normal(0.0, 0.7 / np.sqrt(n), size=(n, n))
    J = np.triu(J, 1)
    return ii.PairwiseIsing(h, J + J.T)


def mpi_backend():
    """The registry's MPI backend (fastest local kernels on each rank), or, when the environment
    variable ``II_TEST_LOCAL`` names a local backend ("numpy", "cython"), one with those kernels."""
    local = os.environ.get("II_TEST_LOCAL")
    if not local:
        return get_backend("mpi")
    from inverse_ising.backends.mpi_backend import MPIBackend

    return MPIBackend(local=get_backend(local))
