"""The Cython backend: compiled, GIL-free kernels with one xoshiro256** generator per chain.

It implements the kernel interface of :class:`inverse_ising.backend.Backend` with the reference's
update rules (:mod:`inverse_ising.reference`), so drivers and learners run on it unchanged:

* ``lattice_sweeps`` — checkerboard Metropolis / Glauber with the reference's lookup table
  (``reference.lattice_tables``); with the backend's own generator the table is turned into integer
  thresholds ceil(p·2⁵³) compared with the top 53 bits of a xoshiro256** output;
* ``pairwise_sweeps`` — sites 0..N−1 in order with incremental local fields f (C, N): a change
  Δ = ±2 of sᵢ adds Δ·Jᵢ (a contiguous row) to the chain's f.  f is cached between calls in the
  generator object and recomputed when the spins, h or J changed since the last call (and every
  ``refresh`` sweeps, to bound rounding drift);
* ``kinetic_steps`` — parallel Glauber steps, the fields H updated incrementally from the spins
  that changed (and recomputed every ``KINETIC_REFRESH`` steps);
* ``sufficient_statistics`` — Σₘ sₘ and SᵀS accumulated in batches through BLAS (float32 matrix
  products, exact for integer sums below 2²⁴, summed in float64).

Extra fast paths of this backend (not part of the interface): :meth:`CythonBackend.msc_sweeps`
(multi-spin coding, 64 lattice replicas per uint64 word) and :meth:`CythonBackend.wolff_updates`
(Wolff single-cluster updates); see ``docs/cython_backend.md``.

Thread count: ``n_threads`` caps it (default: ``OMP_NUM_THREADS``, else the cores available,
:func:`inverse_ising.backends.threads.available_cores`).  Without an explicit choice each call
starts at most as many threads as there are cores free of other processes
(:func:`~inverse_ising.backends.threads.free_threads`), and every call at most one thread per
``MIN_WORK_PER_THREAD`` units of work (see :meth:`CythonBackend._threads`).  Chains (or blocks of
chains) are handed out to threads dynamically and each chain owns its generator, so results do
not depend on the thread count.
"""
import os

import numpy as np

# OpenMP threads that spin after a parallel region steal the cores from the BLAS threads numpy
# starts right after (e.g. a learner alternating sweeps and matrix products): measured 3× slower
# on 2 cores.  Passive waiting is the default here unless the user chose a policy.  It must be set
# before libgomp is loaded, i.e. before the kernels are imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from ..backend import Backend, check_rule  # noqa: E402
from ..errors import InputError  # noqa: E402
from ..reference import check_lattice_shape, lattice_tables  # noqa: E402
from . import _kernels as _baseline_kernels  # noqa: E402
from .threads import available_cores, free_threads, user_threads  # noqa: E402

GENERATOR_WORDS = _baseline_kernels.GENERATOR_WORDS

KINETIC_REFRESH = 64
PAIRWISE_CACHE_BYTES = 1 << 16  # a block of chains keeps about this many bytes of fields in cache
STATS_BATCH = 1 << 12  # rows per BLAS call in sufficient_statistics (< 2**24: exact in float32)
MIN_WORK_PER_THREAD = 20_000  # units of work (see CythonBackend._threads) below which a thread costs more than it gives


def cpu_has_avx2():
    """True when this CPU runs AVX2 and FMA code (numpy's runtime CPU detection)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # pragma: no cover - numpy < 2
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as features
        except ImportError:
            return False
    return bool(features.get("AVX2") and features.get("FMA3") and features.get("BMI2"))


def load_kernels(simd="auto"):
    """The compiled kernel module: ``_kernels_avx2`` (same code built for AVX2 + FMA) when the CPU has
    them and ``simd`` is "auto" (the environment variable ``INVERSE_ISING_SIMD=baseline`` forces the
    portable build), else ``_kernels`` (the compiler's baseline x86-64 / ARM target)."""
    simd = os.environ.get("INVERSE_ISING_SIMD", "auto") if simd == "auto" else simd
    if simd not in ("auto", "avx2", "baseline"):
        raise InputError(f"simd must be 'auto', 'avx2' or 'baseline', got {simd!r}")
    if simd != "baseline" and cpu_has_avx2():
        try:
            from . import _kernels_avx2

            if _kernels_avx2.TARGET_AVX2:
                return _kernels_avx2
        except ImportError:
            pass
    if simd == "avx2":
        raise InputError("the AVX2 build of the cython kernels is not available on this machine")
    return _baseline_kernels


_kernels = load_kernels()


def default_threads():
    """The default thread cap: ``OMP_NUM_THREADS`` if set, else the cores available (affinity mask
    and cgroup quota, :func:`inverse_ising.backends.threads.available_cores`)."""
    return user_threads() or available_cores()


class ChainGenerators:
    """Per-chain generators, ``state`` (C, GENERATOR_WORDS) uint64, one row per chain.

    A row holds four xoshiro256** lanes read in turn (lane 0, 1, 2, 3, 0, …) and a buffer of
    outputs (see ``_kernels.pyx``).  Row c is seeded with 16 words from the c-th child of a
    SeedSequence (``SeedSequence.spawn``).  The object also caches the pairwise local fields of the
    chains it drives (see :class:`CythonBackend`).
    """

    def __init__(self, state):
        self.state = np.ascontiguousarray(state, dtype=np.uint64)
        if self.state.ndim != 2 or self.state.shape[1] != GENERATOR_WORDS:
            raise InputError(f"a generator state array must have shape (C, {GENERATOR_WORDS}), got {self.state.shape}")
        self._fields = None  # pairwise local fields cache, see CythonBackend._pairwise_cache

    @classmethod
    def from_seed(cls, seed_seq, n_chains):
        """One generator per chain, seeded by ``seed_seq.spawn(n_chains)[c].generate_state(16)``."""
        seeds = np.empty((n_chains, 16), dtype=np.uint64)
        for c, child in enumerate(seed_seq.spawn(n_chains)):
            seeds[c] = child.generate_state(16, dtype=np.uint64)
        return cls(_baseline_kernels.seed_generators(seeds))

    @property
    def n_chains(self):
        return self.state.shape[0]

    def uniforms(self, n):
        """(C, n) uniform numbers u = (x >> 11)·2⁻⁵³ from each chain's generator."""
        return _kernels.uniforms(self.state, n)

    def __repr__(self):
        return f"<ChainGenerators xoshiro256** × {self.n_chains}>"


_TABLES = {}


def _lattice_tables(J, h, rule):
    """The reference's lattice table and its 53-bit thresholds, memoised (sweep-by-sweep drivers
    call the kernel with the same parameters many times)."""
    key = (J, h, rule)
    found = _TABLES.get(key)
    if found is None:
        if len(_TABLES) > 256:
            _TABLES.clear()
        table = np.ascontiguousarray(lattice_tables(J, h, rule), dtype=np.float64)
        found = _TABLES[key] = (table, _baseline_kernels.thresholds53(table))
    return found


def _check_symmetric(J):
    """The pairwise kernels use row i of J as its column i (incremental fields)."""
    if not np.array_equal(J, J.T):
        raise InputError("pairwise sweeps need a symmetric J (an equilibrium model); "
                         f"max |J − Jᵀ| = {np.max(np.abs(J - J.T)):.3g}")


def _contiguous_spins(spins, ndim):
    """A C-contiguous int8 array sharing ``spins``' memory when possible (else a copy to write back)."""
    if not isinstance(spins, np.ndarray) or spins.dtype != np.int8 or spins.ndim != ndim:
        raise InputError(f"spins must be an int8 array with {ndim} dimensions, got "
                         f"{getattr(spins, 'dtype', type(spins))} {getattr(spins, 'shape', '')}")
    return spins if spins.flags.c_contiguous else np.ascontiguousarray(spins)


def _write_back(work, spins):
    if work is not spins:
        spins[...] = work


def _uniform_array(uniforms, n, shape):
    u = np.ascontiguousarray(uniforms, dtype=np.float64)
    if u.shape[0] < n or u.shape[1:] != tuple(shape):
        raise InputError(f"uniforms must have shape ({n}, {', '.join(map(str, shape))}), got {u.shape}")
    return u[:n]


class CythonBackend(Backend):
    """Compiled kernels (see the module docstring).

    ``dtype`` (float64 or float32) is the precision of the pairwise couplings and local fields;
    float32 halves the memory traffic of the incremental field updates (its decisions are those
    of the float32-rounded model, so it is not compared bit for bit with the reference).
    """

    name = "cython"

    def __init__(self, n_threads=None, dtype=np.float64, pairwise_refresh=None):
        self.n_threads = default_threads() if n_threads is None else max(1, int(n_threads))
        self.follow_load = n_threads is None and user_threads() is None
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
            raise InputError(f"dtype must be float64 or float32, got {self.dtype}")
        default_refresh = 1024 if self.dtype == np.float64 else 64
        self.pairwise_refresh = default_refresh if pairwise_refresh is None else max(1, int(pairwise_refresh))

    def _threads(self, n_chains, work_per_chain):
        """Threads for one call: min(n_threads, n_chains, ⌊n_chains·work_per_chain / MIN_WORK_PER_THREAD⌋),
        and, when the user chose no thread count (``follow_load``), at most the cores free of other
        processes (:func:`inverse_ising.backends.threads.free_threads`); at least 1.  A unit of work
        is a site update of a lattice chain, a coupling of a pairwise or kinetic chain (N² per sweep).
        """
        threads = min(self.n_threads, n_chains, n_chains * work_per_chain // MIN_WORK_PER_THREAD)
        if threads > 1 and self.follow_load:
            threads = min(threads, free_threads())
        return max(1, threads)

    # ------------------------------------------------------------------ randomness
    def make_rng(self, seed_seq, n_chains):
        """One xoshiro256** generator per chain, seeded from ``seed_seq.spawn(n_chains)``."""
        return ChainGenerators.from_seed(seed_seq, n_chains)

    @staticmethod
    def _state(rng, n_chains):
        if rng is None:
            raise InputError("the cython kernels need a generator from make_rng or explicit uniforms")
        state = rng.state if isinstance(rng, ChainGenerators) else rng
        if not isinstance(state, np.ndarray) or state.dtype != np.uint64 or state.ndim != 2 \
                or state.shape[1] != GENERATOR_WORDS \
                or not state.flags.c_contiguous:
            raise InputError(f"the cython backend needs the generator made by its make_rng, got {rng!r}")
        if state.shape[0] < n_chains:
            raise InputError(f"the generator has {state.shape[0]} chains but the spins have {n_chains}")
        return state

    # ------------------------------------------------------------------ lattice
    def lattice_sweeps(self, spins, J, h, boundary, rule, n_sweeps, rng=None, uniforms=None):
        """Checkerboard sweeps of (C, L, L) int8 spins in place: the reference's rule and table."""
        check_rule(rule)
        work = _contiguous_spins(spins, 3)
        C, L = work.shape[0], work.shape[-1]
        if work.shape[1] != L:
            raise InputError(f"lattice spins must have shape (C, L, L), got {work.shape}")
        check_lattice_shape(L, boundary)
        if n_sweeps <= 0 or C == 0:
            return
        table, thresholds = _lattice_tables(float(J), float(h), rule)
        metro, periodic = rule == "metropolis", boundary == "periodic"
        threads = self._threads(C, n_sweeps * L * L)
        if uniforms is not None:
            u = _uniform_array(uniforms, n_sweeps, work.shape)
            _kernels.lattice_sweeps_uniforms(work, table, metro, periodic, u, threads)
        else:
            _kernels.lattice_sweeps_rng(work, thresholds, metro, periodic, int(n_sweeps), self._state(rng, C), threads)
        _write_back(work, spins)

    # ------------------------------------------------------------------ pairwise
    def _pairwise_cache(self, work, h, J, rng):
        """(cache, valid) for the chains driven by ``rng``: the private contiguous couplings Jc (in
        ``dtype``), copies of the h and J they were made from, the local fields f (C, N), a copy of the
        spins they belong to, and the sweeps since f was computed.  Valid when h, J and the spins are
        byte for byte those of the last call (so in-place changes are seen) and f is not too old."""
        cache = rng._fields if isinstance(rng, ChainGenerators) else None
        if cache is not None and cache["dtype"] == self.dtype and cache["f"].shape == work.shape \
                and _kernels.same_bytes(cache["J"], J) and _kernels.same_bytes(cache["h"], h):
            valid = cache["age"] < self.pairwise_refresh and _kernels.same_bytes(cache["spins"], work)
            return cache, valid
        J_copy = np.array(J, dtype=np.float64, order="C")
        _check_symmetric(J_copy)
        Jc = J_copy if self.dtype == np.float64 else J_copy.astype(self.dtype)
        cache = {"dtype": self.dtype, "J": J_copy, "Jc": Jc, "h": h.copy(), "f": np.empty(work.shape, self.dtype),
                 "spins": np.empty_like(work), "age": 0}
        return cache, False

    def pairwise_sweeps(self, spins, h, J, rule, n_sweeps, rng=None, uniforms=None):
        """Sequential sweeps (sites 0..N−1) of (C, N) int8 spins in place with incremental fields."""
        check_rule(rule)
        work = _contiguous_spins(spins, 2)
        C, N = work.shape
        h = np.ascontiguousarray(h, dtype=np.float64)
        J = np.asarray(J, dtype=np.float64)
        if h.shape != (N,) or J.shape != (N, N):
            raise InputError(f"h and J must have shapes ({N},) and ({N}, {N}), got {h.shape} and {J.shape}")
        if n_sweeps <= 0 or C == 0:
            return
        metro = rule == "metropolis"
        block = max(1, min(64, PAIRWISE_CACHE_BYTES // (self.dtype.itemsize * N)))
        threads = self._threads(-(-C // block), n_sweeps * N * N * block) if C > block else 1
        if uniforms is not None:
            u = _uniform_array(uniforms, n_sweeps, work.shape)
            _check_symmetric(J)
            Jc = np.ascontiguousarray(J, dtype=self.dtype)
            f = np.empty(work.shape, dtype=self.dtype)
            _kernels.pairwise_fields(work, h, Jc, f, 1)
            _kernels.pairwise_sweeps(work, Jc, f, metro, int(n_sweeps), np.empty((0, GENERATOR_WORDS), np.uint64), u,
                                     block, threads)
            if isinstance(rng, ChainGenerators):
                rng._fields = None
        else:
            state = self._state(rng, C)
            cache, valid = self._pairwise_cache(work, h, J, rng)
            Jc, f = cache["Jc"], cache["f"]
            if not valid:
                _kernels.pairwise_fields(work, h, Jc, f, self._threads(C, N * N))
                cache["age"] = 0
            done = 0
            while done < n_sweeps:  # recompute the fields every `pairwise_refresh` sweeps
                k = min(n_sweeps - done, self.pairwise_refresh - cache["age"])
                _kernels.pairwise_sweeps(work, Jc, f, metro, int(k), state, None, block, threads)
                done += k
                cache["age"] += k
                if cache["age"] >= self.pairwise_refresh and done < n_sweeps:
                    _kernels.pairwise_fields(work, h, Jc, f, self._threads(C, N * N))
                    cache["age"] = 0
            np.copyto(cache["spins"], work)
            if isinstance(rng, ChainGenerators):
                rng._fields = cache
        _write_back(work, spins)

    # ------------------------------------------------------------------ kinetic
    def kinetic_steps(self, spins, h, J, n_steps, rng=None, uniforms=None, out=None):
        """Parallel Glauber steps of (C, N) int8 spins in place; the state after step t → ``out[t]``."""
        work = _contiguous_spins(spins, 2)
        C, N = work.shape
        h = np.ascontiguousarray(h, dtype=np.float64)
        J = np.asarray(J, dtype=np.float64)
        if h.shape != (N,) or J.shape != (N, N):
            raise InputError(f"h and J must have shapes ({N},) and ({N}, {N}), got {h.shape} and {J.shape}")
        if n_steps <= 0 or C == 0:
            return
        JT = np.ascontiguousarray(J.T)
        threads = self._threads(C, n_steps * N * N)
        o = None
        if out is not None:
            if out.shape[0] < n_steps or out.shape[1:] != work.shape:
                raise InputError(f"out must have shape ({n_steps}, {C}, {N}), got {out.shape}")
            o = out if (out.dtype == np.int8 and out.flags.c_contiguous) else np.empty((n_steps, C, N), np.int8)
        if uniforms is not None:
            u = _uniform_array(uniforms, n_steps, work.shape)
            _kernels.kinetic_steps(work, h, JT, int(n_steps), np.empty((0, GENERATOR_WORDS), np.uint64), u, o, KINETIC_REFRESH, threads)
        else:
            _kernels.kinetic_steps(work, h, JT, int(n_steps), self._state(rng, C), None, o, KINETIC_REFRESH, threads)
        if o is not None and o is not out:
            out[:n_steps] = o
        _write_back(work, spins)

    # ------------------------------------------------------------------ statistics
    def sufficient_statistics(self, spins):
        """(Σₘ sₘ, Σₘ sₘsₘᵀ) of an (M, N) int8 batch as float64, through BLAS in batches.

        Each batch of ≤ 4096 rows is cast to float32 and multiplied by BLAS (sgemm: its integer
        sums stay below 2²⁴, so they are exact), and the batch results are added in float64: equal
        to the reference's float64 product bit for bit, about twice as fast.
        """
        S = np.asarray(spins)
        if S.ndim != 2:
            raise InputError(f"spins must be an (M, N) array, got shape {S.shape}")
        M, N = S.shape
        sum_s = S.sum(axis=0, dtype=np.int64).astype(np.float64)
        sum_ss = np.zeros((N, N), dtype=np.float64)
        for start in range(0, M, STATS_BATCH):
            batch = S[start:start + STATS_BATCH].astype(np.float32)
            sum_ss += batch.T @ batch
        return sum_s, sum_ss

    # ------------------------------------------------------------------ extra fast paths
    def msc_sweeps(self, words, J, h, rule, n_sweeps, rng):
        """Multi-spin-coded checkerboard sweeps of (C, L, L) uint64 words, 64 replicas per word;
        see :func:`msc_sweeps`."""
        return msc_sweeps(words, J, h, rule, n_sweeps, rng, n_threads=self._grid_threads(words, 64 * int(n_sweeps)))

    def wolff_updates(self, spins, J, boundary, n_clusters, rng):
        """Wolff single-cluster updates of (C, L, L) int8 spins at h = 0; see :func:`wolff_updates`."""
        return wolff_updates(spins, J, boundary, n_clusters, rng, n_threads=self._grid_threads(spins, int(n_clusters)))

    def _grid_threads(self, grids, work_per_site):
        """:meth:`_threads` for (C, L, L) grids with ``work_per_site`` units per site (1 where the
        shape is wrong: the kernel's own check reports it)."""
        shape = np.shape(grids)
        return self._threads(shape[0], work_per_site * shape[1] * shape[2]) if len(shape) == 3 else 1


# ---------------------------------------------------------------------------- multi-spin coding
def msc_pack(spins):
    """(64·C, L, L) int8 replicas → (C, L, L) uint64 words: bit b of word c is replica 64c + b (1 = +1)."""
    spins = np.asarray(spins)
    if spins.ndim != 3 or spins.shape[0] % 64:
        raise InputError(f"multi-spin coding packs 64·C replicas of shape (L, L), got shape {spins.shape}")
    bits = (spins > 0).reshape(-1, 64, *spins.shape[1:]).astype(np.uint64)
    shifts = np.arange(64, dtype=np.uint64).reshape(1, 64, 1, 1)
    return np.bitwise_or.reduce(bits << shifts, axis=1)


def msc_unpack(words):
    """Inverse of :func:`msc_pack`: (C, L, L) uint64 → (64·C, L, L) int8 in {−1, +1}."""
    words = np.asarray(words, dtype=np.uint64)
    shifts = np.arange(64, dtype=np.uint64).reshape(1, 64, 1, 1)
    bits = (words[:, None] >> shifts) & np.uint64(1)
    return (2 * bits.astype(np.int8) - 1).reshape(-1, *words.shape[1:])


def msc_tables(J, h, rule):
    """Per-class thresholds of the multi-spin-coded kernel, from the reference's lattice table.

    A site's class is (k, s): its spin s and a count k of neighbours, either those aligned with s
    (neighbour sum n = s·(2k − 4)) or those up (n = 2k − 4); the threshold is T = ceil(p·2⁵³)
    with p = table[3n + s + 13].  Classes with T = 2⁵³ accept always and are not listed.  When
    both spins of a count share a threshold they make one row, so the count is chosen that gives
    fewer rows: aligned for Metropolis at h = 0 (p depends on s·n), up for Glauber (p(s' = +1)
    depends on n only).  That choice leaves at most five rows that need a comparison, hence at most
    five groups (the kernel's limit): Glauber has one row per n; Metropolis with the aligned count
    compares only where ΔE = 2J(2k − 4) + 2sh > 0, which holds for at most five (k, s).
    Returns (aligned, cls_list, gbits): cls_list holds rows (k, which, group) — which = 0 for
    s = −1 only, 1 for s = +1 only, 2 for both spins — first those with
    0 < T < 2⁵³, g indexing the groups of equal thresholds, then those with T = 0 (never; group
    −1).  gbits[g, i] is all ones where bit 52 − i of T_g is set.
    """
    T = _baseline_kernels.thresholds53(lattice_tables(float(J), float(h), rule))

    def rows_for(aligned):
        """(k, which, threshold) of the classes that do not accept for sure."""
        rows = []
        for k in range(5):
            t_down, t_up = (int(T[3 * (s if aligned else 1) * (2 * k - 4) + s + 13]) for s in (-1, 1))
            if t_down == t_up:
                rows += [(k, 2, t_down)] if t_down < 2**53 else []
            else:
                rows += [(k, which, t) for which, t in ((0, t_down), (1, t_up)) if t < 2**53]
        return rows

    aligned = len(rows_for(True)) <= len(rows_for(False))
    rows = rows_for(aligned)
    groups = sorted({t for _, _, t in rows if t > 0})
    group = {t: g for g, t in enumerate(groups)}
    group[0] = -1
    rows = sorted(((k, which, group[t]) for k, which, t in rows), key=lambda row: row[2] < 0)  # never last
    cls_list = np.array(rows, dtype=np.int8).reshape(-1, 3)
    gbits = np.zeros((len(groups), 53), dtype=np.uint64)
    for g, t in enumerate(groups):
        for i in range(53):
            if (t >> (52 - i)) & 1:
                gbits[g, i] = np.uint64(0xFFFFFFFFFFFFFFFF)
    return aligned, cls_list, gbits


def msc_sweeps(words, J, h, rule, n_sweeps, rng, n_threads=1):
    """``n_sweeps`` checkerboard sweeps of 64·C lattice replicas stored bitwise, (C, L, L) uint64, in place.

    Each replica follows the reference's Metropolis / Glauber rule (same probabilities, periodic
    L×L lattice, checkerboard order) with its own 53-bit uniform per update: bit b of the words
    drawn for a site belongs to replica b only, so replicas are independent Markov chains that
    share generator calls but no random bits.  ``rng`` is ``make_rng(seed_seq, C)`` (one generator
    row per word, i.e. per 64 replicas); the bits come from the row's ARS-5 stream (AES rounds on a
    counter, ``backends/ars5.h``; key: the row's first two words, block counter: its word
    ``GEN_MSC_COUNTER``, advanced by the words used).  Start replicas independently (e.g.
    ``msc_pack`` of random spins).
    """
    check_rule(rule)
    if not _kernels.MSC_AVAILABLE:
        raise InputError("the multi-spin-coded kernel needs a build with GCC or Clang")
    if not isinstance(words, np.ndarray) or words.dtype != np.uint64 or words.ndim != 3 \
            or words.shape[1] != words.shape[2] or not words.flags.c_contiguous:
        raise InputError(f"words must be a C-contiguous (C, L, L) uint64 array, got {getattr(words, 'shape', words)}")
    check_lattice_shape(words.shape[-1], "periodic")
    aligned, cls_list, gbits = msc_tables(J, h, rule)
    state = CythonBackend._state(rng, words.shape[0])
    threads = min(max(1, int(n_threads)), max(1, words.shape[0]))
    _kernels.msc_sweeps(words, aligned, cls_list, gbits, rule == "glauber", int(n_sweeps), state, threads)


# ---------------------------------------------------------------------------- Wolff clusters
def wolff_updates(spins, J, boundary, n_clusters, rng, n_threads=1):
    """``n_clusters`` Wolff single-cluster updates of each (C, L, L) int8 grid in place; returns the
    cluster sizes, (C, n_clusters) int64.

    For log p = J Σ_⟨ij⟩ sᵢsⱼ with J ≥ 0 and h = 0: a uniform seed site starts the cluster, and
    each neighbour with the seed's spin joins with probability p_add = 1 − exp(−2J) (53-bit
    integer threshold); the whole cluster is flipped.  Periodic or open boundaries; any L ≥ 2.
    One cluster flips on average ⟨size⟩ spins: n_clusters·⟨size⟩/L² is the work in sweeps.
    ``rng`` is ``make_rng(seed_seq, C)``.
    """
    if not isinstance(spins, np.ndarray) or spins.dtype != np.int8 or spins.ndim != 3 \
            or spins.shape[1] != spins.shape[2] or not spins.flags.c_contiguous:
        raise InputError(f"spins must be a C-contiguous (C, L, L) int8 array, got {getattr(spins, 'shape', spins)}")
    J = float(J)
    if not J >= 0.0:
        raise InputError(f"the Wolff update here needs a ferromagnetic J ≥ 0 (and h = 0), got J = {J}")
    if boundary not in ("periodic", "open"):
        raise InputError(f"boundary must be 'periodic' or 'open', got {boundary!r}")
    if spins.shape[1] ** 2 >= 2**31:
        raise InputError("the lattice is too large for the Wolff kernel")
    C = spins.shape[0]
    state = CythonBackend._state(rng, C)
    t_add = int(_baseline_kernels.thresholds53(-np.expm1(-2.0 * J)))
    sizes = np.zeros((C, int(n_clusters)), dtype=np.int64)
    threads = min(max(1, int(n_threads)), max(1, C))
    _kernels.wolff_updates(spins, t_add, boundary == "periodic", int(n_clusters), state, sizes, threads)
    return sizes
