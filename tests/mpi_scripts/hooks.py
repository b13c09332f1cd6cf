"""The distribution hooks of the MPI backend, checked on every rank; rank 0 prints "hooks ok".

    mpiexec -n P python hooks.py

Any failed assertion escapes to the excepthook the backend installed, which aborts the job with
a non-zero status, so the test sees the failure instead of a hang.
"""
import numpy as np

import inverse_ising as ii
from _common import mpi_backend, small_pairwise
from inverse_ising.errors import InputError
from inverse_ising.mpi_utils import CollectiveInputError, check_on_all, check_same_on_all, run_on_root


def main():
    b = mpi_backend()
    P, r = b.size, b.rank
    assert b.name == "mpi" and b.is_root == (r == 0)

    # chains: contiguous, as even as possible, deterministic, summing to the total
    for C in (1, P - 1, P, 7, 100, 101):
        if C < 1:
            continue
        counts = b.comm.allgather(b.local_chains(C))
        offsets = b.comm.allgather(b.chain_offset(C))
        assert sum(counts) == C and max(counts) - min(counts) <= 1, (C, counts)
        assert offsets == list(np.concatenate([[0], np.cumsum(counts)[:-1]])), (C, offsets)

    # seeds: one child per rank, distinct, and the same as spawning on one process
    seq = np.random.SeedSequence(2024)
    mine = b.local_seed(seq).generate_state(4)
    expected = np.random.SeedSequence(2024).spawn(P)[r].generate_state(4)
    assert np.array_equal(mine, expected)
    states = b.comm.allgather(tuple(mine))
    assert len(set(states)) == P
    # no seed: every rank still draws from rank 0's entropy
    fresh = b.local_seed(np.random.SeedSequence())
    assert len({e for e in b.comm.allgather(fresh.entropy)}) == 1
    assert len(set(b.comm.allgather(tuple(fresh.generate_state(2))))) == P

    # allreduce: dtypes and shapes kept, scalars in → numpy scalars out, booleans counted
    for dtype in (np.float64, np.float32, np.int64, np.int32, np.int8, np.complex128):
        a = (np.arange(12).reshape(3, 4) * (r + 1)).astype(dtype)
        s = b.allreduce_sum(a)
        assert s.dtype == a.dtype and s.shape == a.shape
        assert np.array_equal(s, (np.arange(12).reshape(3, 4) * sum(range(1, P + 1))).astype(dtype))
    assert b.allreduce_sum(2.5) == 2.5 * P and np.ndim(b.allreduce_sum(2.5)) == 0
    assert b.allreduce_sum(np.array([True, r == 0])).tolist() == [P, 1]
    strided = np.arange(20.0)[::2]  # non-contiguous input
    assert np.array_equal(b.allreduce_sum(strided), strided * P)

    # gather: rows in rank order, uneven counts, zero rows on some ranks, 3-D rows, int8
    n_rows = r + 1 if r % 2 == 0 else 0
    rows = np.full((n_rows, 2, 3), r, dtype=np.int8)
    g = b.gather_rows(rows)
    if b.is_root:
        want = np.concatenate([np.full((q + 1 if q % 2 == 0 else 0, 2, 3), q, dtype=np.int8) for q in range(P)])
        assert g.dtype == np.int8 and np.array_equal(g, want), g
    else:
        assert g is None
    # scatter: the inverse of gather for chain-split arrays (resuming chains saved by the root)
    for R in (1, P + 1, 10):
        full = np.arange(R * 6, dtype=np.float32).reshape(R, 2, 3) if b.is_root else None
        mine = b.scatter_rows(full, n_rows=R)
        start, count = b.chain_offset(R), b.local_chains(R)
        assert mine.shape == (count, 2, 3) and mine.dtype == np.float32
        assert np.array_equal(mine, np.arange(R * 6, dtype=np.float32).reshape(R, 2, 3)[start:start + count])
        back = b.gather_rows(mine)
        assert back is None or np.array_equal(back, full)

    # rows that disagree in shape: the same clear error on every rank
    try:
        b.gather_rows(np.zeros((1, 3 + r)))
        raised = P == 1
    except ValueError as exc:
        raised = "different shapes" in str(exc)
    assert raised

    # broadcast, run_on_root, check_on_all
    assert b.broadcast({"rank": r})["rank"] == 0
    assert run_on_root(b, lambda: ("read once", r)) == ("read once", 0)

    def bad():
        raise InputError("data.npz: values other than 0/1 in column 3")

    try:
        run_on_root(b, bad)
        raise AssertionError("run_on_root did not raise")
    except CollectiveInputError as exc:
        assert str(exc) == "data.npz: values other than 0/1 in column 3"
    try:
        check_on_all(b, r != P - 1, f"rank {r} saw a NaN")
        raise AssertionError("check_on_all did not raise")
    except CollectiveInputError as exc:
        assert str(exc) == f"rank {P - 1} saw a NaN"
    check_on_all(b, True, "never shown")
    check_same_on_all(b, np.arange(5.0), np.eye(3))
    try:
        check_same_on_all(b, np.array([float(r == P - 1)]))
        raised = P == 1
    except RuntimeError as exc:
        raised = f"ranks [{P - 1}] differ" in str(exc)
    assert raised

    # Chains.statistics = sums over all chains of all ranks, identical on every rank
    model = small_pairwise()
    chains = ii.Chains(model, n_chains=37, backend=b, seed=5)
    chains.sweep(3)
    n, sum_s, sum_ss = chains.statistics()
    everything = b.gather_rows(chains.spins)
    if b.is_root:
        S = everything.astype(np.float64)
        assert n == 37 and everything.shape == (37, model.n_spins)
        assert np.array_equal(sum_s, S.sum(0)) and np.array_equal(sum_ss, S.T @ S)
    for x in (sum_s, sum_ss):
        copies = b.comm.allgather(x)
        assert all(np.array_equal(c, copies[0]) for c in copies)
    if b.is_root:
        print(f"hooks ok on {P} ranks (local kernels: {b.local.name})", flush=True)


if __name__ == "__main__":
    main()
