# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled kernels of the Cython backend (see ``docs/cython_backend.md``).

Every kernel updates int8 spins in place, runs without the GIL, and is parallel over independent
chains with OpenMP ``prange(schedule="static")``.  Each chain owns its generator, so a chain's
trajectory does not depend on which thread runs it: the results are identical for any thread count.

Random numbers
--------------
Each chain has a xoshiro256** generator (Blackman & Vigna 2018), 4 × uint64 of state, seeded
from its own ``SeedSequence`` child (see ``cython_backend.make_rng``).  A uniform number is the
top 53 bits of one output, u = (x >> 11)·2⁻⁵³ ∈ [0, 1).  With a probability p the comparison
``u < p`` equals the integer comparison ``(x >> 11) < ceil(p·2⁵³)``: the lattice kernels compare
with such integer thresholds and never convert to float.  Decisions whose outcome is certain
(p ≥ 1, or p = 0) draw no number.

Explicit uniforms
-----------------
Every kernel can instead read an array of uniforms u[t, chain, site] (float64) and then makes the
reference's comparisons literally: ``u < table[3n + s + 13]`` on the lattice, ``u < exp(-2 s f)``
(Metropolis) and ``u < 1 / (1 + exp(-2 f))`` (Glauber) for the pairwise and kinetic models.
"""
import numpy as np

cimport numpy as cnp
from cython.parallel cimport prange
from libc.math cimport exp
from libc.stdint cimport int8_t, int32_t, int64_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp, memcpy, memset

cnp.import_array()

ctypedef fused real:
    float
    double

cdef uint64_t ONE53 = (<uint64_t>1) << 53
cdef double INV53 = 1.0 / 9007199254740992.0


# ============================================================================== xoshiro256**
cdef inline uint64_t _rotl(uint64_t x, int k) noexcept nogil:
    return (x << k) | (x >> (64 - k))


cdef inline uint64_t next64(uint64_t* s) noexcept nogil:
    """One output of xoshiro256** and the state advanced by one step."""
    cdef uint64_t result = _rotl(s[1] * 5, 7) * 9
    cdef uint64_t t = s[1] << 17
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


cdef inline double next_double(uint64_t* s) noexcept nogil:
    """u = (x >> 11)·2⁻⁵³ ∈ [0, 1)."""
    return <double>(next64(s) >> 11) * INV53


def xoshiro_outputs(uint64_t[::1] state, Py_ssize_t n):
    """The next ``n`` raw outputs of one xoshiro256** state (advanced in place); for tests."""
    cdef uint64_t st[4]
    cdef Py_ssize_t k
    out = np.empty(n, dtype=np.uint64)
    cdef uint64_t[::1] o = out
    memcpy(st, &state[0], 4 * sizeof(uint64_t))
    for k in range(n):
        o[k] = next64(st)
    memcpy(&state[0], st, 4 * sizeof(uint64_t))
    return out


def uniforms(uint64_t[:, ::1] state, Py_ssize_t n):
    """(C, n) uniforms u = (x >> 11)·2⁻⁵³ from each chain's generator (advanced in place)."""
    cdef Py_ssize_t C = state.shape[0], c, k
    out = np.empty((C, n), dtype=np.float64)
    cdef double[:, ::1] o = out
    for c in range(C):
        for k in range(n):
            o[c, k] = next_double(&state[c, 0])
    return out


def thresholds53(p):
    """Integer thresholds T = ceil(p·2⁵³) clipped to [0, 2⁵³]: u < p  ⇔  (x >> 11) < T."""
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    return np.ceil(p * float(ONE53)).astype(np.uint64)


# ============================================================================== lattice
cdef inline int8_t _lattice_decide_rng(int8_t s, int n, const uint64_t* thr, bint metro, uint64_t* st) noexcept nogil:
    """New value of spin s with neighbour sum n: Metropolis flips, Glauber sets +1, when
    (x >> 11) < T = thr[3n + s + 13] (T = 2⁵³: always, T = 0: never).  Branch-free: one draw per site."""
    cdef int8_t acc = (next64(st) >> 11) < thr[3 * n + s + 13]
    if metro:
        return s - 2 * s * acc
    return 2 * acc - 1


cdef inline int8_t _lattice_decide_u(int8_t s, int n, const double* table, bint metro, double u) noexcept nogil:
    cdef bint acc = u < table[3 * n + s + 13]
    if metro:
        return -s if acc else s
    return 1 if acc else -1


cdef void _lattice_chain_rng(int8_t* g, Py_ssize_t L, bint periodic, const uint64_t* thr, bint metro,
                             Py_ssize_t n_sweeps, uint64_t* state, const int8_t* zero) noexcept nogil:
    """``n_sweeps`` checkerboard sweeps of one L×L grid: colour 0 (r + j even), then colour 1, row by row.

    The generator state lives in a local array for the whole call, so that the compiler keeps it
    in registers (int8 stores to the grid could otherwise alias it).
    """
    cdef uint64_t st[4]
    cdef Py_ssize_t t, r, j
    cdef int colour, n, side
    cdef int8_t* row
    cdef const int8_t* up
    cdef const int8_t* dn
    memcpy(st, state, 4 * sizeof(uint64_t))
    for t in range(n_sweeps):
        for colour in range(2):
            for r in range(L):
                row = g + r * L
                up = row - L if r > 0 else (g + (L - 1) * L if periodic else zero)
                dn = row + L if r < L - 1 else (g if periodic else zero)
                if ((r + colour) & 1) == 0:
                    side = row[L - 1] if periodic else 0
                    n = up[0] + dn[0] + side + row[1]
                    row[0] = _lattice_decide_rng(row[0], n, thr, metro, st)
                    j = 2
                    while j < L:
                        n = up[j] + dn[j] + row[j - 1] + row[j + 1]
                        row[j] = _lattice_decide_rng(row[j], n, thr, metro, st)
                        j += 2
                else:
                    j = 1
                    while j < L - 1:
                        n = up[j] + dn[j] + row[j - 1] + row[j + 1]
                        row[j] = _lattice_decide_rng(row[j], n, thr, metro, st)
                        j += 2
                    side = row[0] if periodic else 0
                    n = up[L - 1] + dn[L - 1] + row[L - 2] + side
                    row[L - 1] = _lattice_decide_rng(row[L - 1], n, thr, metro, st)
    memcpy(state, st, 4 * sizeof(uint64_t))


cdef void _lattice_half_u(int8_t* g, Py_ssize_t L, int colour, bint periodic, const double* table,
                          bint metro, const double* u, const int8_t* zero) noexcept nogil:
    """As :func:`_lattice_half_rng`, site (r, j) reading u[r·L + j]."""
    cdef Py_ssize_t r, j
    cdef int8_t* row
    cdef const int8_t* up
    cdef const int8_t* dn
    cdef const double* ur
    cdef int n, side
    for r in range(L):
        row = g + r * L
        ur = u + r * L
        up = row - L if r > 0 else (g + (L - 1) * L if periodic else zero)
        dn = row + L if r < L - 1 else (g if periodic else zero)
        if ((r + colour) & 1) == 0:
            side = row[L - 1] if periodic else 0
            n = up[0] + dn[0] + side + row[1]
            row[0] = _lattice_decide_u(row[0], n, table, metro, ur[0])
            j = 2
            while j < L:
                n = up[j] + dn[j] + row[j - 1] + row[j + 1]
                row[j] = _lattice_decide_u(row[j], n, table, metro, ur[j])
                j += 2
        else:
            j = 1
            while j < L - 1:
                n = up[j] + dn[j] + row[j - 1] + row[j + 1]
                row[j] = _lattice_decide_u(row[j], n, table, metro, ur[j])
                j += 2
            side = row[0] if periodic else 0
            n = up[L - 1] + dn[L - 1] + row[L - 2] + side
            row[L - 1] = _lattice_decide_u(row[L - 1], n, table, metro, ur[L - 1])


def lattice_sweeps_rng(int8_t[:, :, ::1] spins, const uint64_t[::1] thresholds, bint metropolis, bint periodic,
                       Py_ssize_t n_sweeps, uint64_t[:, ::1] state, int n_threads=1):
    """``n_sweeps`` checkerboard sweeps (black (r + c) even, then white) of (C, L, L) int8 spins.

    Site with spin s and neighbour sum n (open boundaries: missing neighbours count 0) draws x
    from its chain's xoshiro256** and accepts when (x >> 11) < thresholds[3n + s + 13]
    (= ceil(p·2⁵³), p the reference's table): Metropolis flips s, Glauber sets +1 (else −1).
    """
    cdef Py_ssize_t C = spins.shape[0], L = spins.shape[1], c
    cdef int8_t* zero
    if C == 0:
        return
    zero = <int8_t*>malloc(L)
    memset(zero, 0, L)
    try:
        for c in prange(C, nogil=True, schedule="static", num_threads=n_threads):
            _lattice_chain_rng(&spins[c, 0, 0], L, periodic, &thresholds[0], metropolis, n_sweeps, &state[c, 0], zero)
    finally:
        free(zero)


def lattice_sweeps_uniforms(int8_t[:, :, ::1] spins, const double[::1] table, bint metropolis, bint periodic,
                            const double[:, :, :, ::1] u, int n_threads=1):
    """Checkerboard sweeps driven by explicit uniforms u (n_sweeps, C, L, L): the reference's rule
    ``u[t, c, r, j] < table[3n + s + 13]`` at every site."""
    cdef Py_ssize_t C = spins.shape[0], L = spins.shape[1], T = u.shape[0], c, t
    cdef int8_t* zero
    if C == 0:
        return
    zero = <int8_t*>malloc(L)
    memset(zero, 0, L)
    try:
        for c in prange(C, nogil=True, schedule="static", num_threads=n_threads):
            for t in range(T):
                _lattice_half_u(&spins[c, 0, 0], L, 0, periodic, &table[0], metropolis, &u[t, c, 0, 0], zero)
                _lattice_half_u(&spins[c, 0, 0], L, 1, periodic, &table[0], metropolis, &u[t, c, 0, 0], zero)
    finally:
        free(zero)


# ============================================================================== pairwise
cdef void _fields_chain(const int8_t* s, const double* h, const real* J, real* f, Py_ssize_t N) noexcept nogil:
    """f = h + J s, summed over j = 0..N−1 in order (row j of symmetric J is column j)."""
    cdef Py_ssize_t i, j
    cdef double acc
    cdef const real* Jj
    for i in range(N):
        f[i] = 0
    for j in range(N):
        Jj = J + j * N
        if s[j] > 0:
            for i in range(N):
                f[i] += Jj[i]
        else:
            for i in range(N):
                f[i] -= Jj[i]
    for i in range(N):
        f[i] = <real>(h[i] + f[i])


def pairwise_fields(const int8_t[:, ::1] spins, const double[::1] h, const real[:, ::1] J, real[:, ::1] f, int n_threads=1):
    """Local fields f[c, i] = hᵢ + Σⱼ Jᵢⱼ s[c, j] (J symmetric), in a fixed summation order."""
    cdef Py_ssize_t C = spins.shape[0], N = spins.shape[1], c
    if C == 0 or N == 0:
        return
    for c in prange(C, nogil=True, schedule="static", num_threads=n_threads):
        _fields_chain(&spins[c, 0], &h[0], &J[0, 0], &f[c, 0], N)


cdef inline void _axpy(real* f, const real* row, real d, Py_ssize_t N) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(N):
        f[j] += d * row[j]


cdef void _pairwise_block(int8_t* spins, const real* J, real* f, Py_ssize_t N, Py_ssize_t c0, Py_ssize_t c1,
                          bint metro, Py_ssize_t n_sweeps, uint64_t* state, const double* u,
                          Py_ssize_t u_sweep_stride) noexcept nogil:
    """Sweeps of chains c0..c1−1, interleaved site by site so that row Jᵢ is reused from cache."""
    cdef Py_ssize_t t, i, c
    cdef int8_t s, new
    cdef double fi, x, p, ui
    cdef const real* Ji
    cdef uint64_t* st
    for t in range(n_sweeps):
        for i in range(N):
            Ji = J + i * N
            for c in range(c0, c1):
                s = spins[c * N + i]
                fi = f[c * N + i]
                st = state + 4 * c
                if metro:
                    x = s * fi
                    if u != NULL:
                        new = -s if u[t * u_sweep_stride + c * N + i] < exp(-2.0 * s * fi) else s
                    elif x <= 0.0:
                        new = -s
                    else:
                        new = -s if next_double(st) < exp(-2.0 * x) else s
                else:
                    p = 1.0 / (1.0 + exp(-2.0 * fi))
                    ui = u[t * u_sweep_stride + c * N + i] if u != NULL else next_double(st)
                    new = 1 if ui < p else -1
                if new != s:
                    spins[c * N + i] = new
                    _axpy(f + c * N, Ji, <real>(new - s), N)


def pairwise_sweeps(int8_t[:, ::1] spins, const real[:, ::1] J, real[:, ::1] f, bint metropolis, Py_ssize_t n_sweeps,
                    uint64_t[:, ::1] state, const double[:, :, ::1] u, Py_ssize_t block, int n_threads=1):
    """``n_sweeps`` sequential sweeps (sites 0..N−1) of (C, N) spins with incremental local fields.

    ``f`` (C, N) holds fᵢ = hᵢ + Σⱼ Jᵢⱼsⱼ on entry and is kept current: when sᵢ changes by Δ = ±2,
    f += Δ·Jᵢ (one contiguous row of the symmetric J).  Metropolis flips sᵢ when u < exp(−2sᵢfᵢ)
    (with its own generator, sᵢfᵢ ≤ 0 flips without drawing); Glauber sets sᵢ = +1 when
    u < 1/(1 + exp(−2fᵢ)), else −1.  ``u`` (n_sweeps, C, N) gives explicit uniforms, or None to draw
    from ``state`` (C, 4).  Chains are processed in blocks of ``block`` (a cache optimisation that
    does not change any chain's trajectory).
    """
    cdef Py_ssize_t C = spins.shape[0], N = spins.shape[1], nb, b, c0, c1
    cdef const double* up = NULL
    cdef Py_ssize_t ustride = 0
    cdef uint64_t* sp = NULL
    if C == 0 or N == 0:
        return
    if u is not None:
        up = &u[0, 0, 0]
        ustride = u.strides[0] // sizeof(double)
    else:
        sp = &state[0, 0]
    block = max(1, block)
    nb = (C + block - 1) // block
    for b in prange(nb, nogil=True, schedule="static", num_threads=n_threads):
        c0 = b * block
        c1 = min(c0 + block, C)
        _pairwise_block(&spins[0, 0], &J[0, 0], &f[0, 0], N, c0, c1, metropolis, n_sweeps, sp, up, ustride)


# ============================================================================== kinetic
cdef void _kinetic_chain(int8_t* s, const double* h, const double* JT, Py_ssize_t N,
                         Py_ssize_t n_steps, uint64_t* state, const double* u, Py_ssize_t u_stride,
                         int8_t* out, Py_ssize_t out_stride, Py_ssize_t refresh) noexcept nogil:
    """Parallel Glauber steps of one chain: sᵢ ← +1 when u < 1/(1 + exp(−2Hᵢ)), Hᵢ = hᵢ + Σⱼ Jᵢⱼsⱼ.

    H is recomputed from scratch (Σⱼ in the order j = 0..N−1, then + hᵢ) every ``refresh`` steps
    and otherwise
    updated incrementally: H += Δⱼ·(column j of J) for every spin j that changed.
    """
    cdef double* H = <double*>malloc(N * sizeof(double))
    cdef int8_t* new = <int8_t*>malloc(N)
    cdef uint64_t st[4]
    cdef Py_ssize_t t, i, j
    cdef double ui, d
    if state != NULL:
        memcpy(st, state, 4 * sizeof(uint64_t))
    for t in range(n_steps):
        if t % refresh == 0:
            memset(H, 0, N * sizeof(double))
            for j in range(N):
                _axpy(H, JT + j * N, <double>s[j], N)
            for i in range(N):
                H[i] = h[i] + H[i]
        for i in range(N):
            ui = u[t * u_stride + i] if u != NULL else next_double(st)
            new[i] = 1 if ui < 1.0 / (1.0 + exp(-2.0 * H[i])) else -1
        for j in range(N):
            if new[j] != s[j]:
                d = <double>(new[j] - s[j])
                _axpy(H, JT + j * N, d, N)
                s[j] = new[j]
        if out != NULL:
            memcpy(out + t * out_stride, s, N)
    if state != NULL:
        memcpy(state, st, 4 * sizeof(uint64_t))
    free(H)
    free(new)


def kinetic_steps(int8_t[:, ::1] spins, const double[::1] h, const double[:, ::1] JT,
                  Py_ssize_t n_steps, uint64_t[:, ::1] state, const double[:, :, ::1] u, int8_t[:, :, ::1] out,
                  Py_ssize_t refresh, int n_threads=1):
    """``n_steps`` parallel Glauber steps of (C, N) spins (JT = the transpose of any J, contiguous);
    the state after step t goes to out[t] when ``out`` (n_steps, C, N) is given.  ``u`` (n_steps, C, N)
    gives explicit uniforms, or None to draw from ``state``."""
    cdef Py_ssize_t C = spins.shape[0], N = spins.shape[1], c
    cdef const double* up = NULL
    cdef Py_ssize_t ustride = 0, ostride = 0
    cdef uint64_t* sp = NULL
    cdef int8_t* op = NULL
    if C == 0 or N == 0 or n_steps == 0:
        return
    if u is not None:
        up = &u[0, 0, 0]
        ustride = u.strides[0]
    else:
        sp = &state[0, 0]
    if out is not None:
        op = &out[0, 0, 0]
        ostride = out.strides[0]
    refresh = max(1, refresh)
    for c in prange(C, nogil=True, schedule="static", num_threads=n_threads):
        _kinetic_chain(&spins[c, 0], &h[0], &JT[0, 0], N, n_steps,
                       (sp + 4 * c) if sp != NULL else NULL,
                       (up + c * N) if up != NULL else NULL, ustride // sizeof(double),
                       (op + c * N) if op != NULL else NULL, ostride, refresh)


# ============================================================================== utilities
def same_bytes(a, b):
    """True when two arrays hold the same bytes (same dtype and shape; memcmp without the GIL)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    cdef const unsigned char[::1] x = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
    cdef const unsigned char[::1] y = np.ascontiguousarray(b).reshape(-1).view(np.uint8)
    cdef Py_ssize_t n = x.shape[0]
    cdef int r = 0
    if n == 0:
        return True
    with nogil:
        r = memcmp(&x[0], &y[0], n)
    return r == 0
