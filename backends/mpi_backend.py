"""The MPI backend: independent chains spread over MPI ranks (SPEC §3).

Every rank runs the same driver code (``Chains``, ``sample``, the learners) on its own share of
the chains, with the fastest local kernels (``local``: Cython where built, else numpy). The
backend supplies only the distribution hooks of :class:`inverse_ising.backend.Backend`:

* ``local_chains(C)`` — rank r of P runs ⌊C/P⌋ chains, plus one if r < C mod P; its chains
  are the global chains ``offset(r) .. offset(r) + local_chains(C) − 1`` in rank order;
* ``local_seed(seq)`` — rank r draws from ``seq.spawn(P)[r]``, so one seed and one rank count
  reproduce a run exactly, and different ranks never share a stream;
* ``allreduce_sum(a)`` — ``Comm.Allreduce`` on the array's buffer (no pickling); the sufficient
  statistics Σ sᵢ and Σ sᵢsⱼ are sums of ±1 products, integers held exactly in float64, so the
  result does not depend on the order of the reduction and every rank takes the same step;
* ``gather_rows(a)`` — ``Comm.Gatherv`` of whole rows (one MPI datatype per row) to rank 0,
  which gets the rows of every rank in rank order; the other ranks get None;
* ``broadcast(obj)`` — rank 0's object on every rank (pickled; for small objects and for data
  read once on the root).

Outside mpiexec (a plain ``python`` process) MPI runs as a single rank and the backend behaves
like its local backend, with the seed of rank 0 of 1.

When there is more than one rank, creating the backend installs an exception hook
(:func:`inverse_ising.mpi_utils.install_excepthook`): an exception that escapes on any rank is
printed with the rank's number and the whole job is aborted, instead of the other ranks waiting
forever in their next collective call.
"""
import numpy as np

from inverse_ising.backend import Backend
from inverse_ising.errors import InputError

try:
    from mpi4py import MPI
except ImportError as exc:  # the registry turns this into an InputError naming the [mpi] extra
    raise ImportError(f"mpi4py is not installed ({exc})") from None


def split_evenly(n, size, rank):
    """(count, offset) of part ``rank`` when ``n`` items are split into ``size`` contiguous parts
    whose lengths differ by at most one (the first n mod size parts get the extra item)."""
    base, extra = divmod(n, size)
    return base + (rank < extra), rank * base + min(rank, extra)


def share_cores(local, ranks_on_node):
    """Give this rank its share of the node's cores, so that P ranks on one node do not each
    start a thread per core: the threads of a threaded local backend (one with ``n_threads``,
    e.g. the Cython/OpenMP kernels) and the BLAS thread pool (through threadpoolctl).

    Left alone when ``OMP_NUM_THREADS`` is set (the user decided; BLAS also when
    ``OPENBLAS_NUM_THREADS`` or ``MKL_NUM_THREADS`` is). When the launcher bound this rank to a
    subset of the cores (``srun --cpu-bind``, ``mpiexec -bind-to core``), that subset is its
    share; otherwise the cores the process may use are divided by the ranks on the node.
    Returns the share, or None when nothing was changed.
    """
    import os

    def is_set(var):
        return bool(os.environ.get(var, "").strip())

    if is_set("OMP_NUM_THREADS"):
        return None
    try:
        allowed = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        allowed = os.cpu_count() or 1
    total = os.cpu_count() or allowed
    share = allowed if allowed < total else max(1, total // max(1, ranks_on_node))
    if hasattr(local, "n_threads"):
        local.n_threads = share
    if not (is_set("OPENBLAS_NUM_THREADS") or is_set("MKL_NUM_THREADS")):
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            pass
        else:
            threadpool_limits(limits=share, user_api="blas")  # for the rest of this process
    return share


def _contiguous(array):
    """``array`` as a C-contiguous numpy array of the same shape (0-d stays 0-d)."""
    a = np.asarray(array)
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


class MPIBackend(Backend):
    """Chains distributed over the ranks of an MPI communicator; kernels from ``local``.

    ``local`` is the backend whose kernels each rank runs (default: the numpy reference);
    ``comm`` is the communicator (default ``MPI.COMM_WORLD``).
    """

    name = "mpi"

    def __init__(self, local=None, comm=None):
        if local is None:
            from inverse_ising.reference import NumpyBackend

            local = NumpyBackend()
        if isinstance(local, MPIBackend):
            raise InputError("the local backend of the mpi backend must be a single-process backend")
        self.local = local
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.ranks_on_node = 1
        if self.size > 1:
            from inverse_ising.mpi_utils import install_excepthook

            install_excepthook(self.comm)
            node = self.comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
            self.ranks_on_node = node.Get_size()
            node.Free()
            share_cores(self.local, self.ranks_on_node)

    # ----------------------------------------------------------------- kernels: the local backend's
    def make_rng(self, seed_seq, n_chains):
        return self.local.make_rng(seed_seq, n_chains)

    def lattice_sweeps(self, spins, J, h, boundary, rule, n_sweeps, rng=None, uniforms=None):
        return self.local.lattice_sweeps(spins, J, h, boundary, rule, n_sweeps, rng, uniforms)

    def pairwise_sweeps(self, spins, h, J, rule, n_sweeps, rng=None, uniforms=None):
        return self.local.pairwise_sweeps(spins, h, J, rule, n_sweeps, rng, uniforms)

    def kinetic_steps(self, spins, h, J, n_steps, rng=None, uniforms=None, out=None):
        return self.local.kinetic_steps(spins, h, J, n_steps, rng, uniforms, out)

    def sufficient_statistics(self, spins):
        return self.local.sufficient_statistics(spins)

    # ----------------------------------------------------------------- distribution hooks
    def local_chains(self, n_chains):
        """⌊n_chains / P⌋ chains, one more on the first n_chains mod P ranks (0 if n_chains < P
        on the last ranks: they then contribute nothing to the sums)."""
        return split_evenly(int(n_chains), self.size, self.rank)[0]

    def chain_offset(self, n_chains):
        """Global index of this rank's first chain (its chains are contiguous, in rank order)."""
        return split_evenly(int(n_chains), self.size, self.rank)[1]

    def local_seed(self, seed_seq):
        """Child ``rank`` of ``seed_seq.spawn(P)``, where ``seed_seq`` is rank 0's.

        A collective call. The root's entropy is broadcast, so that a run started without a seed
        (fresh OS entropy on every rank) is still one run with one seed, rank 0's.
        """
        children = seed_seq.spawn(self.size)
        if self.size == 1:
            return children[0]
        entropy = self.comm.bcast(seed_seq.entropy, root=0)
        if entropy == seed_seq.entropy:
            return children[self.rank]
        root_seq = np.random.SeedSequence(entropy, spawn_key=seed_seq.spawn_key, pool_size=seed_seq.pool_size,
                                          n_children_spawned=seed_seq.n_children_spawned - self.size)
        return root_seq.spawn(self.size)[self.rank]

    def allreduce_sum(self, array):
        """Element-wise sum over ranks with a buffer ``Allreduce``; same shape and dtype (booleans
        are summed as int64). Scalars in, numpy scalars out."""
        scalar = np.ndim(array) == 0 and not isinstance(array, np.ndarray)
        send = _contiguous(array)
        if send.dtype == np.bool_:
            send = send.astype(np.int64)
        if send.dtype.kind not in "iufc":
            raise TypeError(f"allreduce_sum needs a numeric array, got dtype {send.dtype}")
        if self.size == 1:
            result = send.copy()
        else:
            result = np.empty_like(send)
            self.comm.Allreduce(send, result, op=MPI.SUM)
        return result[()] if scalar else result

    def gather_rows(self, array):
        """Rows of every rank's ``array`` stacked in rank order, on rank 0; None on the others.

        Rows may differ in number between ranks (zero included) but must agree in their shape
        and dtype; one row travels as one MPI datatype, so counts are rows, not elements.
        """
        local = _contiguous(array)
        if local.ndim == 0:
            raise TypeError("gather_rows needs an array with at least one dimension")
        if self.size == 1:
            return local.copy()
        layouts = self.comm.gather((local.shape, local.dtype.str), root=0)
        root = self.rank == 0
        if root:
            row_shapes = {(shape[1:], dtype) for shape, dtype in layouts}
            bad = None if len(row_shapes) == 1 else sorted(
                f"rank {r}: rows {shape[1:]} {np.dtype(dtype)}" for r, (shape, dtype) in enumerate(layouts))
        else:
            bad = None
        bad = self.comm.bcast(bad, root=0)
        if bad:
            raise ValueError("gather_rows: ranks hold rows of different shapes or types (" + "; ".join(bad) + ")")
        row_bytes = local.dtype.itemsize * int(np.prod(local.shape[1:], dtype=np.int64))
        if row_bytes == 0:  # rows of zero width: nothing to send
            counts = [shape[0] for shape, _ in layouts] if root else None
            return np.empty((sum(counts),) + local.shape[1:], dtype=local.dtype) if root else None
        row_type = MPI.BYTE.Create_contiguous(row_bytes).Commit()
        try:
            send = [local.view(np.uint8).reshape(-1) if local.size else np.empty(0, np.uint8), local.shape[0], row_type]
            if root:
                counts = [shape[0] for shape, _ in layouts]
                displs = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int).tolist()
                out = np.empty((sum(counts),) + local.shape[1:], dtype=local.dtype)
                recv_buf = out.view(np.uint8).reshape(-1) if out.size else np.empty(0, np.uint8)
                self.comm.Gatherv(send, [recv_buf, counts, displs, row_type], root=0)
                return out
            self.comm.Gatherv(send, None, root=0)
            return None
        finally:
            row_type.Free()

    def scatter_rows(self, array, n_rows=None):
        """The inverse of :meth:`gather_rows` for arrays split like the chains: rank 0 holds all
        rows (``array``; the other ranks pass anything, e.g. None) and each rank gets its block,
        rows ``chain_offset(R) .. chain_offset(R) + local_chains(R) − 1`` of the R rows.

        For resuming distributed chains from states saved by rank 0. ``n_rows``, when given on
        every rank, is checked against the root's row count.
        """
        if self.size == 1:
            full = _contiguous(array)
            if n_rows is not None and full.shape[0] != n_rows:
                raise ValueError(f"scatter_rows: {full.shape[0]} rows, expected {n_rows}")
            return full.copy()
        full = _contiguous(array) if self.is_root else None
        layout = self.comm.bcast((full.shape, full.dtype.str) if self.is_root else None, root=0)
        shape, dtype = layout
        if n_rows is not None and shape[0] != n_rows:
            raise ValueError(f"scatter_rows: the root holds {shape[0]} rows, expected {n_rows}")
        count, _ = split_evenly(shape[0], self.size, self.rank)
        out = np.empty((count,) + tuple(shape[1:]), dtype=np.dtype(dtype))
        row_bytes = out.dtype.itemsize * int(np.prod(shape[1:], dtype=np.int64))
        if row_bytes == 0:
            return out
        counts = [split_evenly(shape[0], self.size, r)[0] for r in range(self.size)]
        displs = [split_evenly(shape[0], self.size, r)[1] for r in range(self.size)]
        row_type = MPI.BYTE.Create_contiguous(row_bytes).Commit()
        try:
            recv = [out.view(np.uint8).reshape(-1) if out.size else np.empty(0, np.uint8), count, row_type]
            send = None
            if self.is_root:
                send = [full.view(np.uint8).reshape(-1) if full.size else np.empty(0, np.uint8), counts, displs, row_type]
            self.comm.Scatterv(send, recv, root=0)
        finally:
            row_type.Free()
        return out

    def broadcast(self, obj):
        """Rank 0's ``obj`` on every rank."""
        return obj if self.size == 1 else self.comm.bcast(obj, root=0)

    def barrier(self):
        """Wait for every rank (for tests and timings; the drivers need no barrier)."""
        self.comm.Barrier()

    def __repr__(self):
        threads = getattr(self.local, "n_threads", None)
        extra = f" × {threads} threads" if threads else ""
        return f"<MPIBackend 'mpi': rank {self.rank} of {self.size}, local kernels {self.local.name!r}{extra}>"
