"""Faults under mpiexec: each MODE must end the whole job promptly with a clear message.

    mpiexec -n P python fail.py MODE

raise             rank 1 raises RuntimeError mid-run while the others wait in Allreduce → the
                  backend's excepthook prints it (with the rank) and aborts: status 1
input_one_rank    rank 1 raises InputError inside ``abort_on_error`` (as the CLI would run a
                  command) → one line naming the rank, abort with status 2
input_everywhere  every rank raises the same InputError inside ``abort_on_error`` → the root's
                  line only, status 2
input_on_root     bad input found by ``run_on_root`` → every rank raises CollectiveInputError,
                  the root prints it once, every rank exits 2 by itself (no abort)
"""
import sys

import inverse_ising as ii
from _common import mpi_backend, small_pairwise
from inverse_ising.errors import InputError
from inverse_ising.mpi_utils import abort_on_error, run_on_root


def work(backend, fail_on=None, exc=None, rounds=50):
    chains = ii.Chains(small_pairwise(), n_chains=16, backend=backend, seed=1)
    for k in range(rounds):
        chains.sweep(2)
        if k == 3 and backend.rank == fail_on:
            raise exc
        chains.statistics()  # an Allreduce: the other ranks wait here for the failed one


def main(mode):
    b = mpi_backend()
    if mode == "raise":
        work(b, 1, RuntimeError("deliberate failure on rank 1"))
    elif mode == "input_one_rank":
        with abort_on_error(b, prog="fail.py"):
            work(b, 1, InputError("bad value found on rank 1"))
    elif mode == "input_everywhere":
        with abort_on_error(b, prog="fail.py"):
            work(b, b.rank, InputError("the learning rate makes the fit diverge"))
    elif mode == "input_on_root":
        def load():
            raise InputError("data.txt: ragged rows (row 3 has 7 values, row 1 has 8)")
        try:
            with abort_on_error(b, prog="fail.py"):
                run_on_root(b, load)
                work(b)
        except InputError as exc:
            if b.is_root:
                print(f"fail.py: error: {exc}", file=sys.stderr)
            return 2
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
