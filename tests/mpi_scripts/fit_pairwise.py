"""Boltzmann learning of a pairwise model under mpiexec; rank 0 saves the result.

    mpiexec -n P python fit_pairwise.py DATA.npz OUT.npz --seed S [--checkpoint CKPT [--resume]]
                                        [--tol TOL] [--max-iter K] [--max-sweeps T] [--backend mpi|auto]

DATA.npz holds ``spins`` (M, N). The fit is ``ii.fit(X, model="pairwise", method="boltzmann",
backend=..., ...)`` (``--backend auto`` gives the single-process reference). Every rank checks
that all ranks hold the same parameters at the end. OUT.npz (rank 0) holds ``h``, ``J``,
``converged``, ``iterations``, ``size``. With ``--checkpoint`` the fit checkpoints every
iteration, and ``--resume`` continues from that file.
"""
import argparse
import warnings

import numpy as np

from _common import mpi_backend
from inverse_ising.backend import get_backend
from inverse_ising.mpi_utils import abort_on_error, check_same_on_all


def run_fit(X, backend, seed, n_chains, tol, max_iter, max_sweeps, checkpoint=None, resume=False):
    """(h, J, converged, iterations) of the Boltzmann fit."""
    options = dict(backend=backend, seed=seed, n_chains=n_chains, tol=tol, max_iter=max_iter, max_sweeps=max_sweeps,
                   progress=False)
    if checkpoint:
        options.update(checkpoint=checkpoint, checkpoint_every=1, resume=resume)
    try:
        from inverse_ising.fit import fit  # ii.fit
    except ImportError:  # a tree with the learner but not yet its front end
        from inverse_ising.boltzmann import boltzmann_pairwise

        out = boltzmann_pairwise(X, **options)
        return out["model"].h, out["model"].J, out["converged"], out["iterations"]
    result = fit(X, model="pairwise", method="boltzmann", **options)
    return result.model.h, result.model.J, result.converged, result.iterations


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("out")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--checkpoint")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--tol", type=float, default=1.0)
    p.add_argument("--max-iter", type=int, default=60)
    p.add_argument("--max-sweeps", type=int, default=20000)
    p.add_argument("--chains", type=int, default=400)
    p.add_argument("--backend", default="mpi")
    args = p.parse_args(argv)
    backend = mpi_backend() if args.backend == "mpi" else get_backend(args.backend)
    warnings.simplefilter("ignore", RuntimeWarning)  # "stopped without converging" is expected with a tiny tol
    with abort_on_error(backend, prog="fit_pairwise.py"):
        with np.load(args.data) as f:
            X = f["spins"]
        h, J, converged, iterations = run_fit(X, backend, args.seed, args.chains, args.tol, args.max_iter,
                                              args.max_sweeps, args.checkpoint, args.resume)
        check_same_on_all(backend, h, J)
        if backend.is_root:
            np.savez(args.out, h=h, J=J, converged=bool(converged), iterations=int(iterations), size=backend.size)


if __name__ == "__main__":
    main()
