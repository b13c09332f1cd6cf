# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled kernels of the Cython backend (see ``docs/cython_backend.md``).

Every kernel updates int8 spins in place, runs without the GIL, and is parallel over independent
chains with OpenMP ``prange(schedule="dynamic")``.  Each chain owns its generator, so a chain's
trajectory does not depend on which thread runs it: the results are identical for any thread count.

Random numbers
--------------
Each chain has its own generator: four xoshiro256** lanes (Blackman & Vigna 2018) read in
turn, seeded from the chain's ``SeedSequence`` child (see ``cython_backend.make_rng``; layout
below).  A uniform number is the top 53 bits of one output, u = (x >> 11)·2⁻⁵³ ∈ [0, 1).  With a
probability p the comparison ``u < p`` equals the integer comparison ``(x >> 11) < ceil(p·2⁵³)``:
the lattice kernels compare with such integer thresholds and never convert to float.  The pairwise
Metropolis kernel draws no number when the flip is certain (sᵢfᵢ ≤ 0).

Explicit uniforms
-----------------
Every kernel can instead read an array of uniforms u[t, chain, site] (float64) and then makes the
reference's comparisons: ``u < table[3n + s + 13]`` on the lattice, ``u < exp(-2 s f)``
(Metropolis) and ``u < 1 / (1 + exp(-2 f))`` (Glauber) for the pairwise and kinetic models; the
last two are first bracketed by tables of both functions and evaluated only when u falls
inside the bracket (``metropolis_accept``, ``glauber_up``: the same decisions, fewer exp calls).
``exp`` is the reference's own (``portable_exp.h`` = ``inverse_ising.reference.exp``), so the
decisions are the reference's bits on every CPU.

Multi-spin coding
-----------------
The multi-spin-coded lattice kernel needs one random bit per replica and per bit of its uniform
that it compares, about 21 words of 256 bits per eight sites; it draws them from ARS-5 (five AES
rounds on a counter, ``ars5.h``), which the AES instructions produce at about half of xoshiro's
cost.  Its per-site update is C (``msc.h``).
"""
import numpy as np

cimport numpy as cnp
from cython.parallel cimport prange
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcmp, memcpy, memmove, memset

cnp.import_array()

ctypedef fused real:
    float
    double

cdef extern from "portable_exp.h":
    double ii_exp(double x) noexcept nogil

cdef uint64_t ONE53 = (<uint64_t>1) << 53
cdef double INV53 = 1.0 / 9007199254740992.0


# ============================================================================== xoshiro256** × 4
# A chain's generator is GEN_WORDS uint64: four independent xoshiro256** lanes stored as
# s0[4], s1[4], s2[4], s3[4] (words 0..15), a buffer of GEN_BUF outputs (words 16..47) and the
# read position in it (word 48; GEN_BUF = empty).  One step of the generator advances all four
# lanes and gives four outputs, lane 0 first; the chain's stream is the sequence of these outputs,
# read in order whatever the chunking (the buffer is kept between calls).  The four-lane form
# lets the compiler generate four numbers with one set of vector instructions.  Word 49 is the
# block counter of the chain's ARS-5 stream (keyed by words 0–1), read only by multi-spin coding.
cdef enum:
    GEN_WORDS = 56
    GEN_BUF = 32
    GEN_POS = 48

GENERATOR_WORDS = GEN_WORDS


cdef inline uint64_t _rotl(uint64_t x, int k) noexcept nogil:
    return (x << k) | (x >> (64 - k))


cdef extern from *:
    """
    /* Four xoshiro256** lanes stepped together.  GCC and Clang get the lanes as one vector of four
       uint64 (vector extension), which they map to AVX2 registers, or to pairs of SSE2 registers;
       other compilers run the same arithmetic lane by lane.  Integer arithmetic: identical results. */
    #include <string.h>
    #if defined(__GNUC__) || defined(__clang__)
    typedef uint64_t ii_u64x4 __attribute__((vector_size(32)));
    static inline void ii_gen_steps(uint64_t *g, uint64_t *out, Py_ssize_t n_steps) {
        ii_u64x4 a, b, c, d, r, t;
        memcpy(&a, g, 32); memcpy(&b, g + 4, 32); memcpy(&c, g + 8, 32); memcpy(&d, g + 12, 32);
        for (Py_ssize_t k = 0; k < n_steps; k++) {
            r = (b << 2) + b;                  /* b * 5 */
            r = (r << 7) | (r >> 57);          /* rotl 7 */
            r = (r << 3) + r;                  /* * 9 */
            memcpy(out + 4 * k, &r, 32);
            t = b << 17;
            c ^= a; d ^= b; b ^= c; a ^= d; c ^= t;
            d = (d << 45) | (d >> 19);         /* rotl 45 */
        }
        memcpy(g, &a, 32); memcpy(g + 4, &b, 32); memcpy(g + 8, &c, 32); memcpy(g + 12, &d, 32);
    }
    #else
    static inline void ii_gen_steps(uint64_t *g, uint64_t *out, Py_ssize_t n_steps) {
        for (Py_ssize_t k = 0; k < n_steps; k++) {
            for (int l = 0; l < 4; l++) {
                uint64_t r = g[4 + l] * 5, t = g[4 + l] << 17;
                r = (r << 7) | (r >> 57);
                out[4 * k + l] = r * 9;
                g[8 + l] ^= g[l]; g[12 + l] ^= g[4 + l]; g[4 + l] ^= g[8 + l]; g[l] ^= g[12 + l];
                g[8 + l] ^= t; g[12 + l] = (g[12 + l] << 45) | (g[12 + l] >> 19);
            }
        }
    }
    #endif
    """
    void ii_gen_steps(uint64_t* g, uint64_t* out, Py_ssize_t n_steps) noexcept nogil


cdef inline void gen_steps(uint64_t* g, uint64_t* out, Py_ssize_t n_steps) noexcept nogil:
    """``n_steps`` steps of the four xoshiro256** lanes of ``g``; outputs → out[0 .. 4·n_steps), lane
    0 first.  One lane: x = rotl(s1·5, 7)·9; t = s1 << 17; s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
    s2 ^= t; s3 = rotl(s3, 45)."""
    ii_gen_steps(g, out, n_steps)


cdef inline uint64_t gen_next(uint64_t* g) noexcept nogil:
    """The next output of the chain's stream."""
    cdef uint64_t pos = g[GEN_POS]
    if pos >= GEN_BUF:
        gen_steps(g, g + 16, GEN_BUF // 4)
        pos = 0
    g[GEN_POS] = pos + 1
    return g[16 + pos]


cdef inline double gen_double(uint64_t* g) noexcept nogil:
    """u = (x >> 11)·2⁻⁵³ ∈ [0, 1) from the next output."""
    return <double>(gen_next(g) >> 11) * INV53


cdef void gen_draw(uint64_t* g, uint64_t* out, Py_ssize_t n) noexcept nogil:
    """The next ``n`` outputs of the stream → out (the buffer first, then whole steps, then a refill)."""
    cdef Py_ssize_t pos = <Py_ssize_t>g[GEN_POS], take, done = 0
    if pos < GEN_BUF:
        take = min(n, GEN_BUF - pos)
        memcpy(out, g + 16 + pos, take * sizeof(uint64_t))
        pos += take
        done = take
    if n - done >= 4:
        take = (n - done) // 4
        gen_steps(g, out + done, take)
        done += 4 * take
    if done < n:
        gen_steps(g, g + 16, GEN_BUF // 4)
        memcpy(out + done, g + 16, (n - done) * sizeof(uint64_t))
        pos = n - done
    g[GEN_POS] = pos


def seed_generators(uint64_t[:, ::1] seeds):
    """Generator states (C, GEN_WORDS) from (C, 16) seed words (lane l, word w = seeds[c, 4w + l]);
    an all-zero lane (a fixed point of xoshiro) is replaced by a fixed non-zero constant."""
    cdef Py_ssize_t C = seeds.shape[0], c, l
    out = np.zeros((C, GEN_WORDS), dtype=np.uint64)
    cdef uint64_t[:, ::1] o = out
    for c in range(C):
        for l in range(16):
            o[c, l] = seeds[c, l]
        for l in range(4):
            if o[c, l] == 0 and o[c, 4 + l] == 0 and o[c, 8 + l] == 0 and o[c, 12 + l] == 0:
                o[c, l] = 0x9E3779B97F4A7C15
        o[c, GEN_POS] = GEN_BUF
    return out


def raw_outputs(uint64_t[::1] g, Py_ssize_t n):
    """The next ``n`` outputs of one chain's generator ``g`` (GEN_WORDS words, advanced in place)."""
    out = np.empty(max(n, 1), dtype=np.uint64)
    cdef uint64_t[::1] o = out
    if n > 0:
        gen_draw(&g[0], &o[0], n)
    return out[:n]


def uniforms(uint64_t[:, ::1] state, Py_ssize_t n):
    """(C, n) uniforms u = (x >> 11)·2⁻⁵³ from each chain's generator (advanced in place)."""
    cdef Py_ssize_t C = state.shape[0], c, k
    out = np.empty((C, n), dtype=np.float64)
    cdef double[:, ::1] o = out
    for c in range(C):
        for k in range(n):
            o[c, k] = gen_double(&state[c, 0])
    return out


def thresholds53(p):
    """Integer thresholds T = ceil(p·2⁵³) clipped to [0, 2⁵³]: u < p  ⇔  (x >> 11) < T."""
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    return np.ceil(p * float(ONE53)).astype(np.uint64)


# ============================================================================== lattice
cdef inline int8_t _lattice_decide_u(int8_t s, int n, const double* table, bint metro, double u) noexcept nogil:
    cdef bint acc = u < table[3 * n + s + 13]
    if metro:
        return -s if acc else s
    return 1 if acc else -1


cdef void _lattice_chain_rng(int8_t* g, Py_ssize_t L, bint periodic, const uint64_t* thr, bint metro,
                             Py_ssize_t n_sweeps, uint64_t* gen) noexcept nogil:
    """``n_sweeps`` checkerboard sweeps of one L×L grid with the chain's own generator.

    The grid is split into its two colours, each (L, M = L/2) contiguous (the reference's layout:
    colour 0 (black) at column 2k + r%2, colour 1 (white) at 2k + 1 − r%2).  A half-sweep updates
    one colour row by row; for row r the neighbours of site k are other[r ± 1, k], other[r, k] and
    other[r, k + d] with d = −1 when r + colour is even and +1 otherwise (wrapped, or 0 for open
    boundaries).  Each row is three simple loops the compiler vectorises: the table index
    3n + s + 13, M outputs x of the generator, and the decisions (x >> 11) < thr[index]
    (Metropolis: s → −s, Glauber: s → +1 / −1).
    """
    cdef Py_ssize_t M = L // 2, t, r, k, j
    cdef int colour, d
    cdef int8_t* black = <int8_t*>malloc(L * M)
    cdef int8_t* white = <int8_t*>malloc(L * M)
    cdef int8_t* halo = <int8_t*>malloc(M + 2)
    cdef int8_t* zero = <int8_t*>calloc(M, 1)
    cdef uint8_t* idx = <uint8_t*>malloc(M)
    cdef uint64_t* x = <uint64_t*>malloc(M * sizeof(uint64_t))
    cdef int8_t* X
    cdef int8_t* O
    cdef int8_t* sr
    cdef const int8_t* o
    cdef const int8_t* oo
    cdef const int8_t* up
    cdef const int8_t* dn
    cdef int8_t acc
    for r in range(L):
        for k in range(M):
            j = 2 * k + (r & 1)
            black[r * M + k] = g[r * L + j]
            white[r * M + k] = g[r * L + (j ^ 1)]
    for t in range(n_sweeps):
        for colour in range(2):
            X = black if colour == 0 else white
            O = white if colour == 0 else black
            for r in range(L):
                sr = X + r * M
                o = O + r * M
                up = O + (r - 1) * M if r > 0 else (O + (L - 1) * M if periodic else zero)
                dn = O + (r + 1) * M if r < L - 1 else (O if periodic else zero)
                memcpy(halo + 1, o, M)
                halo[0] = o[M - 1] if periodic else 0
                halo[M + 1] = o[0] if periodic else 0
                d = -1 if ((r + colour) & 1) == 0 else 1
                oo = halo + 1 + d
                for k in range(M):
                    idx[k] = <uint8_t>(3 * (up[k] + dn[k] + o[k] + oo[k]) + sr[k] + 13)
                gen_draw(gen, x, M)
                if metro:
                    for k in range(M):
                        acc = (x[k] >> 11) < thr[idx[k]]
                        sr[k] = sr[k] ^ ((-acc) & <int8_t>0xFE)
                else:
                    for k in range(M):
                        acc = (x[k] >> 11) < thr[idx[k]]
                        sr[k] = 2 * acc - 1
    for r in range(L):
        for k in range(M):
            j = 2 * k + (r & 1)
            g[r * L + j] = black[r * M + k]
            g[r * L + (j ^ 1)] = white[r * M + k]
    free(black)
    free(white)
    free(halo)
    free(zero)
    free(idx)
    free(x)


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
    """``n_sweeps`` checkerboard sweeps (colour 0 = (r + c) even, then colour 1) of (C, L, L) int8 spins.

    A site with spin s and neighbour sum n (open boundaries: missing neighbours count 0) takes the
    next output x of its chain's generator and accepts when (x >> 11) < thresholds[3n + s + 13]
    (= ceil(p·2⁵³), p the reference's table): Metropolis flips s, Glauber sets +1 (else −1).
    Sites are visited colour by colour, row by row, in order of column.
    """
    cdef Py_ssize_t C = spins.shape[0], L = spins.shape[1], c
    if C == 0:
        return
    for c in prange(C, nogil=True, schedule="dynamic", num_threads=n_threads):
        _lattice_chain_rng(&spins[c, 0, 0], L, periodic, &thresholds[0], metropolis, n_sweeps, &state[c, 0])


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
        for c in prange(C, nogil=True, schedule="dynamic", num_threads=n_threads):
            for t in range(T):
                _lattice_half_u(&spins[c, 0, 0], L, 0, periodic, &table[0], metropolis, &u[t, c, 0, 0], zero)
                _lattice_half_u(&spins[c, 0, 0], L, 1, periodic, &table[0], metropolis, &u[t, c, 0, 0], zero)
    finally:
        free(zero)


# ============================================================================== acceptance tests
# u < exp(a) and u < 1/(1 + exp(−2f)) are decided from tables of the two functions on a grid when
# u is clearly above or below the value (both functions are monotone); only when u falls inside
# the bracket of the grid cell (≤ 1/32 of the time, ≤ 2.3 % for Glauber) is the expression
# evaluated, exactly as the reference writes it.  The brackets are widened by a relative 2⁻⁴⁰, far
# more than the error of exp, so every decision equals the direct comparison's.
cdef enum:
    EXP_PER_UNIT = 32
    EXP_CELLS = 1280      # exp(−y) tabulated for y = k/32, k = 0..1280 (y up to 40)
    PUP_PER_UNIT = 64
    PUP_CELLS = 1280      # p₊(f) tabulated for f = −10 + k/64, k = 0..1280
cdef double EXP_TABLE[EXP_CELLS + 1]
cdef double PUP_TABLE[PUP_CELLS + 1]
cdef double BELOW = 1.0 - 2.0 ** -40
cdef double ABOVE = 1.0 + 2.0 ** -40


cdef void _fill_tables() noexcept:
    cdef int k
    cdef double f
    for k in range(EXP_CELLS + 1):
        EXP_TABLE[k] = ii_exp(-(<double>k) / EXP_PER_UNIT)
    for k in range(PUP_CELLS + 1):
        f = -10.0 + (<double>k) / PUP_PER_UNIT
        PUP_TABLE[k] = 1.0 / (1.0 + ii_exp(-2.0 * f))


_fill_tables()


cdef inline bint metropolis_accept(double u, double a) noexcept nogil:
    """u < exp(a), a = −2sf: the Metropolis test.  exp(a) ≥ 1 > u for a ≥ 0; otherwise
    exp(−y_(k+1)) < exp(a) ≤ exp(−y_k) on the cell y_k ≤ y = −a < y_(k+1) (y·32 is exact)."""
    cdef double y
    cdef int k
    if a >= 0.0:
        return True
    y = -a
    if y < EXP_CELLS / EXP_PER_UNIT:
        k = <int>(y * EXP_PER_UNIT)
        if u < EXP_TABLE[k + 1] * BELOW:
            return True
        if u >= EXP_TABLE[k] * ABOVE:
            return False
    elif u >= EXP_TABLE[EXP_CELLS] * ABOVE:
        return False
    return u < ii_exp(a)


cdef inline bint glauber_up(double u, double f) noexcept nogil:
    """u < 1/(1 + exp(−2f)), the heat-bath test; the grid cell of f is widened by one cell on each
    side, so that rounding in its index cannot matter."""
    cdef int k, lo, hi
    if f >= 10.0:
        if u < PUP_TABLE[PUP_CELLS] * BELOW:
            return True
    elif f < -10.0:
        if u >= PUP_TABLE[0] * ABOVE:
            return False
    else:
        k = <int>((f + 10.0) * PUP_PER_UNIT)
        lo = k - 1 if k >= 1 else 0
        hi = k + 2 if k + 2 <= PUP_CELLS else PUP_CELLS
        if u < PUP_TABLE[lo] * BELOW:
            return True
        if u >= PUP_TABLE[hi] * ABOVE:
            return False
    return u < 1.0 / (1.0 + ii_exp(-2.0 * f))


def portable_exp(double[::1] x):
    """The kernels' exp (``portable_exp.h``) of every x; for tests."""
    out = np.empty(x.shape[0], dtype=np.float64)
    cdef double[::1] o = out
    cdef Py_ssize_t i
    for i in range(x.shape[0]):
        o[i] = ii_exp(x[i])
    return out


def accept_tests(double[::1] u, double[::1] x, bint metropolis):
    """The kernels' decisions u < exp(x) (Metropolis) or u < 1/(1 + exp(−2x)) (Glauber); for tests."""
    out = np.empty(u.shape[0], dtype=bool)
    cdef Py_ssize_t i
    for i in range(u.shape[0]):
        out[i] = metropolis_accept(u[i], x[i]) if metropolis else glauber_up(u[i], x[i])
    return out


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
    for c in prange(C, nogil=True, schedule="dynamic", num_threads=n_threads):
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
    cdef double fi, x, ui
    cdef const real* Ji
    cdef uint64_t* st
    for t in range(n_sweeps):
        for i in range(N):
            Ji = J + i * N
            for c in range(c0, c1):
                s = spins[c * N + i]
                fi = f[c * N + i]
                st = state + GEN_WORDS * c
                if metro:
                    x = -2.0 * s * fi
                    if u != NULL:
                        new = -s if metropolis_accept(u[t * u_sweep_stride + c * N + i], x) else s
                    elif x >= 0.0:
                        new = -s
                    else:
                        new = -s if metropolis_accept(gen_double(st), x) else s
                else:
                    ui = u[t * u_sweep_stride + c * N + i] if u != NULL else gen_double(st)
                    new = 1 if glauber_up(ui, fi) else -1
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
    from the chains' generators ``state`` (C, GENERATOR_WORDS).  Chains are processed in blocks of ``block`` (a cache optimisation that
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
    for b in prange(nb, nogil=True, schedule="dynamic", num_threads=n_threads):
        c0 = b * block
        c1 = min(c0 + block, C)
        _pairwise_block(&spins[0, 0], &J[0, 0], &f[0, 0], N, c0, c1, metropolis, n_sweeps, sp, up, ustride)


# ============================================================================== kinetic
cdef void _kinetic_chain(int8_t* s, const double* h, const double* JT, Py_ssize_t N,
                         Py_ssize_t n_steps, uint64_t* state, const double* u, Py_ssize_t u_stride,
                         int8_t* out, Py_ssize_t out_stride, Py_ssize_t refresh) noexcept nogil:
    """Parallel Glauber steps of one chain: sᵢ ← +1 when u < 1/(1 + exp(−2Hᵢ)), Hᵢ = hᵢ + Σⱼ Jᵢⱼsⱼ.

    H is recomputed from scratch (Σⱼ in the order j = 0..N−1, then + hᵢ) every ``refresh`` steps
    and otherwise updated incrementally: H += Δⱼ·(column j of J) for every spin j that changed.
    Step t takes N outputs of the chain's generator, one per spin in order.
    """
    cdef double* H = <double*>malloc(N * sizeof(double))
    cdef int8_t* new = <int8_t*>malloc(N)
    cdef uint64_t* x = <uint64_t*>malloc(N * sizeof(uint64_t))
    cdef Py_ssize_t t, i, j, age = refresh
    cdef double ui, d
    for t in range(n_steps):
        if age == refresh:
            memset(H, 0, N * sizeof(double))
            for j in range(N):
                _axpy(H, JT + j * N, <double>s[j], N)
            for i in range(N):
                H[i] = h[i] + H[i]
            age = 0
        age += 1
        if u == NULL:
            gen_draw(state, x, N)
        for i in range(N):
            ui = u[t * u_stride + i] if u != NULL else <double>(x[i] >> 11) * INV53
            new[i] = 1 if glauber_up(ui, H[i]) else -1
        for j in range(N):
            if new[j] != s[j]:
                d = <double>(new[j] - s[j])
                _axpy(H, JT + j * N, d, N)
                s[j] = new[j]
        if out != NULL:
            memcpy(out + t * out_stride, s, N)
    free(H)
    free(new)
    free(x)


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
    for c in prange(C, nogil=True, schedule="dynamic", num_threads=n_threads):
        _kinetic_chain(&spins[c, 0], &h[0], &JT[0, 0], N, n_steps,
                       (sp + GEN_WORDS * c) if sp != NULL else NULL,
                       (up + c * N) if up != NULL else NULL, ustride // sizeof(double),
                       (op + c * N) if op != NULL else NULL, ostride, refresh)


# ============================================================================== multi-spin coding
cdef extern from "ars5.h":
    int II_ARS5_PORTABLE, II_ARS5_AESNI, II_ARS5_VAES
    int ii_ars5_best
    void ii_ars5_init() noexcept nogil
    int ii_ars5_runs(int impl) noexcept nogil
    void ii_ars5_fill(uint64_t* out, const uint64_t* key, uint64_t counter, Py_ssize_t n_words) noexcept nogil
    int ii_ars5_fill_with(int impl, uint64_t* out, const uint64_t* key, uint64_t counter, Py_ssize_t n_words) noexcept nogil

ii_ars5_init()
ARS5_NAMES = {II_ARS5_PORTABLE: "portable", II_ARS5_AESNI: "aesni", II_ARS5_VAES: "vaes"}
ARS5_BEST = ARS5_NAMES[ii_ars5_best]
ARS5_AVAILABLE = tuple(name for impl, name in sorted(ARS5_NAMES.items()) if ii_ars5_runs(impl))


def ars5_words(const uint64_t[::1] key, uint64_t counter, Py_ssize_t n_words, impl=None):
    """(n_words, 4) uint64: words of the ARS-5 stream with this 128-bit key from block ``counter``
    (word w = blocks counter + 2w, counter + 2w + 1, as low/high halves), computed by implementation
    ``impl`` ("portable", "aesni", "vaes"; default: the one the kernels use)."""
    names = {name: code for code, name in ARS5_NAMES.items()}
    if key.shape[0] != 2 or n_words < 0 or (impl is not None and impl not in names):
        raise ValueError("ars5_words needs a key of two words, n_words >= 0 and a known implementation")
    out = np.zeros((max(n_words, 1), 4), dtype=np.uint64)
    cdef uint64_t[:, ::1] o = out
    if ii_ars5_fill_with(names[impl or ARS5_BEST], &o[0, 0], &key[0], counter, n_words) != 0:
        raise ValueError(f"this CPU cannot run the {impl} implementation of ARS-5")
    return out[:n_words]


cdef extern from "msc.h":
    ctypedef uint64_t ii_v4
    int II_MSC_VECTORS, II_MSC_MAX_ROWS, II_MSC_MAX_GROUPS
    ii_v4 ii_v4_splat(uint64_t x) noexcept nogil
    ii_v4 ii_v4_lanes_below(Py_ssize_t n) noexcept nogil
    ctypedef struct ii_msc_tables:
        int n_rows, G, glauber
        int8_t k[10]
        int8_t which[10]
        int8_t group[10]
        uint8_t code_lo[53]
        uint8_t code_hi[53]
        uint64_t aligned
    Py_ssize_t ii_msc_update(const ii_msc_tables* t, uint64_t* sr, const uint64_t* up, const uint64_t* dn,
                             const uint64_t* o, const uint64_t* oo, ii_v4 validA, ii_v4 validB,
                             const uint64_t* rv) noexcept nogil

cdef enum:
    MSC_BLOCK_WORDS = 106  # generator words one block of eight sites may use: 53 bits for each of its two groups
    MSC_BUFFER_WORDS = 512  # generator words buffered per chain (16 KiB: stays in the L1 cache)
    GEN_MSC_COUNTER = 49  # word of a chain's generator state that holds its ARS-5 block counter

MSC_AVAILABLE = bool(II_MSC_VECTORS)


cdef void _msc_chain(uint64_t* grid, Py_ssize_t L, const ii_msc_tables* tables, Py_ssize_t n_sweeps,
                     uint64_t* gen) noexcept nogil:
    """``n_sweeps`` checkerboard sweeps of 64 replicas stored bitwise in one L×L grid of words.

    Bit b of a word is replica b's spin (1 = +1).  The lattice is split by colour, so that eight
    sites of a colour are consecutive words; ``ii_msc_update`` (``msc.h``) updates them with
    the class tables ``tables`` and one generator word per group of four sites and bit of the
    uniforms.  The words come from the chain's ARS-5 stream (key: words 0–1 of ``gen``, next
    block: word GEN_MSC_COUNTER), used in order; they are generated into a buffer ahead of use and
    the counter is advanced by what was used, so that the results do not depend on the buffering.
    """
    cdef Py_ssize_t M = L // 2, Mp = (L // 2 + 7) // 8 * 8, t, r, k, j, head = 0, filled = 0
    cdef int colour, d
    cdef uint64_t* black = <uint64_t*>calloc(L * Mp + 8, sizeof(uint64_t))
    cdef uint64_t* white = <uint64_t*>calloc(L * Mp + 8, sizeof(uint64_t))
    cdef uint64_t* halo = <uint64_t*>calloc(Mp + 10, sizeof(uint64_t))
    cdef uint64_t* words_mem = <uint64_t*>malloc((4 * MSC_BUFFER_WORDS + 8) * sizeof(uint64_t))
    cdef uint64_t* words = <uint64_t*>((<size_t>words_mem + 63) & ~(<size_t>63))  # 64-byte aligned: no load crosses a cache line
    cdef uint64_t* X
    cdef uint64_t* O
    cdef uint64_t* sr
    cdef const uint64_t* o
    cdef const uint64_t* oo
    cdef const uint64_t* up
    cdef const uint64_t* dn
    cdef uint64_t base = gen[GEN_MSC_COUNTER]  # block index of words[0]
    cdef ii_v4 validA, validB, all_lanes = ii_v4_splat(~(<uint64_t>0))
    cdef ii_v4 lastA = ii_v4_lanes_below(M % 8 if M % 8 else 8), lastB = ii_v4_lanes_below(M % 8 - 4 if M % 8 else 8)
    for r in range(L):
        for k in range(M):
            j = 2 * k + (r & 1)
            black[r * Mp + k] = grid[r * L + j]
            white[r * Mp + k] = grid[r * L + (j ^ 1)]
    for t in range(n_sweeps):
        for colour in range(2):
            X = black if colour == 0 else white
            O = white if colour == 0 else black
            for r in range(L):
                sr = X + r * Mp
                o = O + r * Mp
                up = O + (r - 1) * Mp if r > 0 else O + (L - 1) * Mp
                dn = O + (r + 1) * Mp if r < L - 1 else O
                memcpy(halo + 1, o, M * sizeof(uint64_t))
                halo[0] = o[M - 1]
                halo[M + 1] = o[0]
                d = -1 if ((r + colour) & 1) == 0 else 1
                oo = halo + 1 + d
                k = 0
                while k < M:
                    validA = all_lanes if k + 8 <= M else lastA  # a row's last block may be partial
                    validB = all_lanes if k + 8 <= M else lastB
                    if filled - head < MSC_BLOCK_WORDS:  # keep the unused words, generate the next ones after them
                        memmove(words, words + 4 * head, (filled - head) * 4 * sizeof(uint64_t))
                        base += 2 * <uint64_t>head
                        filled -= head
                        head = 0
                        ii_ars5_fill(words + 4 * filled, gen, base + 2 * <uint64_t>filled, MSC_BUFFER_WORDS - filled)
                        filled = MSC_BUFFER_WORDS
                    head += ii_msc_update(tables, sr + k, up + k, dn + k, o + k, oo + k, validA, validB,
                                          words + 4 * head)
                    k += 8
    gen[GEN_MSC_COUNTER] = base + 2 * <uint64_t>head
    for r in range(L):
        for k in range(M):
            j = 2 * k + (r & 1)
            grid[r * L + j] = black[r * Mp + k]
            grid[r * L + (j ^ 1)] = white[r * Mp + k]
    free(black)
    free(white)
    free(halo)
    free(words_mem)


def msc_sweeps(uint64_t[:, :, ::1] words, bint aligned, const int8_t[:, ::1] cls_list, const uint64_t[:, ::1] gbits, bint glauber,
               Py_ssize_t n_sweeps, uint64_t[:, ::1] state, int n_threads=1):
    """Multi-spin-coded checkerboard sweeps of (C, L, L) uint64 words (64 replicas each, periodic L×L
    lattice); chain c draws from the ARS-5 stream of generator row c (key: words 0–1, block counter:
    word GEN_MSC_COUNTER, advanced in place).  ``aligned``, ``cls_list`` (n, 3) and ``gbits`` are the
    tables of ``cython_backend.msc_tables``."""
    cdef Py_ssize_t C = words.shape[0], L = words.shape[1], c, q, i
    cdef ii_msc_tables tables
    if not II_MSC_VECTORS:
        raise RuntimeError("the multi-spin-coded kernel needs GCC or Clang vector extensions")
    if C == 0:
        return
    if gbits.shape[0] > II_MSC_MAX_GROUPS or gbits.shape[1] != 53 or cls_list.shape[0] > II_MSC_MAX_ROWS \
            or (cls_list.shape[0] > 0 and cls_list.shape[1] != 3):
        raise ValueError("bad multi-spin-coding tables")
    if state.shape[0] < C or state.shape[1] != GEN_WORDS:
        raise ValueError("one generator state row per word is needed")
    memset(&tables, 0, sizeof(tables))
    tables.n_rows, tables.G, tables.glauber = cls_list.shape[0], gbits.shape[0], glauber
    tables.aligned = ~(<uint64_t>0) if aligned else 0
    for q in range(tables.n_rows):
        tables.k[q], tables.which[q], tables.group[q] = cls_list[q, 0], cls_list[q, 1], cls_list[q, 2]
    for q in range(tables.G):
        for i in range(53):
            if gbits[q, i]:  # selector codes of the threshold bits (msc.h)
                if q < 2:
                    tables.code_lo[i] += 1 << q
                else:
                    tables.code_hi[i] += 1 << (q - 2)
    for c in prange(C, nogil=True, schedule="dynamic", num_threads=n_threads):
        _msc_chain(&words[c, 0, 0], L, &tables, n_sweeps, &state[c, 0])


# ============================================================================== Wolff clusters
cdef inline uint64_t _uniform_below(uint64_t* gen, uint64_t n) noexcept nogil:
    """A uniform integer in [0, n), 0 < n < 2³², exactly (Lemire's multiply-shift with rejection:
    x = top 32 bits of an output, m = x·n; reject while m mod 2³² < 2³² mod n)."""
    cdef uint64_t mask32 = (<uint64_t>1 << 32) - 1
    cdef uint64_t m = (gen_next(gen) >> 32) * n
    cdef uint64_t low = m & mask32, limit
    if low < n:
        limit = ((<uint64_t>1 << 32) - n) % n
        while low < limit:
            m = (gen_next(gen) >> 32) * n
            low = m & mask32
    return m >> 32


cdef inline Py_ssize_t _wolff_try(int8_t* g, Py_ssize_t L, Py_ssize_t rr, Py_ssize_t cc, int8_t s0, uint64_t t_add,
                                   uint64_t* gen, int32_t* stack, Py_ssize_t top) noexcept nogil:
    """Site (rr, cc) joins the cluster (flipped, pushed) when it still has spin s₀ and (x >> 11) < t_add."""
    cdef Py_ssize_t q = rr * L + cc
    if g[q] == s0 and (gen_next(gen) >> 11) < t_add:
        g[q] = -s0
        stack[2 * top] = <int32_t>rr
        stack[2 * top + 1] = <int32_t>cc
        return top + 1
    return top


cdef void _wolff_chain(int8_t* g, Py_ssize_t L, bint periodic, uint64_t t_add, Py_ssize_t n_clusters,
                       uint64_t* gen, int64_t* sizes, int32_t* stack) noexcept nogil:
    """Wolff single-cluster updates of one L×L grid (h = 0, J ≥ 0).

    Seed: a uniform site i (``_uniform_below``).  Its spin s₀ is flipped and pushed; each popped
    site (r, c) looks at its neighbours up, down, left, right (wrapped, or absent at open edges),
    and a neighbour still equal to s₀ joins with probability p_add = 1 − exp(−2J): the next output
    x accepts when (x >> 11) < t_add = ceil(p_add·2⁵³); joining sites are flipped at once (so each
    joins once).  ``stack`` holds (row, column) pairs, at most L² of them.
    """
    cdef Py_ssize_t n, top, size, i, r, c, before
    cdef int8_t s0
    cdef uint64_t N = <uint64_t>(L * L)
    for n in range(n_clusters):
        i = <Py_ssize_t>_uniform_below(gen, N)
        r = i // L
        c = i - r * L
        s0 = g[i]
        g[i] = -s0
        stack[0] = <int32_t>r
        stack[1] = <int32_t>c
        top = 1
        size = 1
        while top > 0:
            top -= 1
            r = stack[2 * top]
            c = stack[2 * top + 1]
            before = top
            if r > 0:
                top = _wolff_try(g, L, r - 1, c, s0, t_add, gen, stack, top)
            elif periodic:
                top = _wolff_try(g, L, L - 1, c, s0, t_add, gen, stack, top)
            if r < L - 1:
                top = _wolff_try(g, L, r + 1, c, s0, t_add, gen, stack, top)
            elif periodic:
                top = _wolff_try(g, L, 0, c, s0, t_add, gen, stack, top)
            if c > 0:
                top = _wolff_try(g, L, r, c - 1, s0, t_add, gen, stack, top)
            elif periodic:
                top = _wolff_try(g, L, r, L - 1, s0, t_add, gen, stack, top)
            if c < L - 1:
                top = _wolff_try(g, L, r, c + 1, s0, t_add, gen, stack, top)
            elif periodic:
                top = _wolff_try(g, L, r, 0, s0, t_add, gen, stack, top)
            size += top - before
        sizes[n] = size


def wolff_updates(int8_t[:, :, ::1] spins, uint64_t t_add, bint periodic, Py_ssize_t n_clusters,
                  uint64_t[:, ::1] state, int64_t[:, ::1] sizes, int n_threads=1):
    """``n_clusters`` Wolff cluster flips of each of the (C, L, L) grids; cluster sizes → sizes (C, n)."""
    cdef Py_ssize_t C = spins.shape[0], L = spins.shape[1], c
    cdef int32_t* stack
    if C == 0 or n_clusters == 0:
        return
    for c in prange(C, nogil=True, schedule="dynamic", num_threads=n_threads):
        stack = <int32_t*>malloc(2 * L * L * sizeof(int32_t))
        _wolff_chain(&spins[c, 0, 0], L, periodic, t_add, n_clusters, &state[c, 0], &sizes[c, 0], stack)
        free(stack)


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
