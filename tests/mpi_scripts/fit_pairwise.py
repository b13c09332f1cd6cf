"""Boltzmann learning of a pairwise model under mpiexec; rank 0 saves the result.

    mpiexec -n P python fit_pairwise.py DATA.npz OUT.npz --seed S [--checkpoint CKPT [--resume | --hold]]
                                        [--tol TOL] [--max-iter K] [--max-sweeps T] [--backend mpi|auto]

DATA.npz holds ``spins`` (M, N). The fit is ``ii.fit(X, model="pairwise", method="boltzmann",
backend=..., ...)`` (``--backend auto`` gives the single-process reference). Every rank checks
that all ranks hold the same parameters at the end. OUT.npz (rank 0) holds ``h``, ``J``,
``converged``, ``iterations``, ``size``. With ``--checkpoint`` the fit checkpoints every
iteration, and ``--resume`` continues from that file. ``--hold``: once the checkpoint exists, rank 0
prints "checkpoint written" and waits, before its next sweeps, for Ctrl-C (SIGINT), so that the
test interrupts a fit that is certainly mid-way.
"""
import argparse
import os
import signal
import warnings

import numpy as np

import inverse_ising as ii
from _common import mpi_backend
from inverse_ising.backend import get_backend
from inverse_ising.mpi_utils import abort_on_error, check_same_on_all


def run_fit(X, backend, seed, n_chains, tol, max_iter, max_sweeps, checkpoint=None, resume=False):
    """(h, J, converged, iterations) of the Boltzmann fit."""
    options = dict(backend=backend, seed=seed, n_chains=n_chains, tol=tol, max_iter=max_iter, max_sweeps=max_sweeps,
                   progress=False)
    if checkpoint:
        options.update(checkpoint=checkpoint, checkpoint_every=1, resume=resume)
    result = ii.fit(X, model="pairwise", method="boltzmann", **options)
    return result.model.h, result.model.J, result.converged, result.iterations


def hold_after_checkpoint(backend, checkpoint):
    """Make rank 0 stop at its first sweeps after ``checkpoint`` appeared, say so on stdout, and
    wait for a signal (the other ranks wait for it in their next collective)."""
    sweeps = backend.pairwise_sweeps

    def pairwise_sweeps(*args, **kwargs):
        if backend.is_root and os.path.exists(checkpoint):
            print("checkpoint written", flush=True)
            while True:
                signal.pause()
        return sweeps(*args, **kwargs)

    backend.pairwise_sweeps = pairwise_sweeps


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("out")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--checkpoint")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--hold", action="store_true")
    p.add_argument("--tol", type=float, default=1.0)
    p.add_argument("--max-iter", type=int, default=60)
    p.add_argument("--max-sweeps", type=int, default=20000)
    p.add_argument("--chains", type=int, default=400)
    p.add_argument("--backend", default="mpi")
    args = p.parse_args(argv)
    backend = mpi_backend() if args.backend == "mpi" else get_backend(args.backend)
    if args.hold:
        hold_after_checkpoint(backend, args.checkpoint)
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
