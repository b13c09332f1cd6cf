"""Sample the small pairwise model with the MPI backend; rank 0 saves the samples.

    mpiexec -n P python sample_moments.py OUT.npz SEED [N_CHAINS [PER_CHAIN [THIN [BURN_IN]]]]

OUT.npz holds ``samples`` (PER_CHAIN·N_CHAINS, N) in the order of ``ii.sample`` (time, then
chain), ``size`` (the rank count) and ``local`` (the local kernels' backend name).
"""
import sys

import numpy as np

import inverse_ising as ii
from _common import mpi_backend, small_pairwise


def main(out, seed, n_chains=64, per_chain=200, thin=2, burn_in=100):
    backend = mpi_backend()
    model = small_pairwise()
    X = ii.sample(model, n_samples=n_chains * per_chain, n_chains=n_chains, thin=thin, burn_in=burn_in,
                  rule="metropolis", backend=backend, seed=seed, progress=False)
    assert (X is None) == (not backend.is_root), "sample must return the samples on the root only"
    if backend.is_root:
        np.savez(out, samples=X, size=backend.size, local=backend.local.name)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:]))
