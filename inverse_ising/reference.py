"""The numpy reference kernels: plain, vectorised over independent chains. They *are* the spec.

Every kernel updates int8 spins in place and consumes one uniform number u ∈ [0, 1) per update
attempt (conventions in :mod:`inverse_ising.backend`). With fᵢ the local field of site i:

* Metropolis: flip sᵢ → −sᵢ when  u < exp(ΔlogP) = exp(−2 sᵢ fᵢ);
* Glauber (heat bath): sᵢ ← +1 when  u < p₊(fᵢ) = 1 / (1 + exp(−2fᵢ))  (= (1 + tanh fᵢ)/2), else −1.

``exp`` in these tests is :func:`exp`, written here with IEEE additions and multiplications only, and
the compiled kernels evaluate the same operations in the same order: a decision never depends on
which ``exp`` a CPU's numpy or libm picks (numpy's SIMD ``exp`` on AVX-512 CPUs differs from libm's
in the last bit), so the kernels agree with the reference bit for bit on every CPU.

Lattice (log p = J Σ_⟨ij⟩ sᵢsⱼ + h Σᵢ sᵢ): fᵢ = J·nᵢ + h with nᵢ the sum of the four neighbours.
The lattice is split into its two checkerboard sublattices ("black" sites (r + c) even, "white"
odd), each stored as an (C, L, L/2) array, so that a half-sweep updates one colour from the
other's fixed values; (nᵢ, sᵢ) takes 18 values, so both rules read a lookup table.

Pairwise (log p = Σ hᵢsᵢ + ½ Σ Jᵢⱼsᵢsⱼ): sites 0..N−1 in order, fᵢ = hᵢ + Σⱼ Jᵢⱼsⱼ with the
current spins. Local fields are computed for a block of sites by one matrix product and kept
current inside the block as its spins change (incremental local fields).

Kinetic: all spins at once, sᵢ(t+1) = +1 when u < p₊(Hᵢ(t)), Hᵢ(t) = hᵢ + Σⱼ Jᵢⱼsⱼ(t).
"""
import math

import numpy as np

from .backend import Backend, check_rule
from .blas import blas_threads
from .errors import InputError

PAIRWISE_BLOCK = 16


# exp(x) = 2ᵏ·eʳ with k = rint(x / ln 2) and r = x − k ln 2, reduced in two parts (ln 2 = LN2_HI +
# LN2_LO, LN2_HI with 32 significant bits, so k·LN2_HI is exact for |k| < 2²¹); eʳ by its Taylor
# polynomial of degree 13 on |r| ≤ ln 2 / 2 (truncation < 3·10⁻¹⁸ relative), by Horner's rule.
# The kernels (``backends/portable_exp.h``) repeat these constants and operations one for one.
INV_LN2 = float.fromhex("0x1.71547652b82fep+0")
LN2_HI = float.fromhex("0x1.62e42feep-1")
LN2_LO = float.fromhex("0x1.a39ef35793c76p-33")
EXP_DEGREE = 13
EXP_MIN, EXP_MAX = -708.0, 709.0  # exp(x) is set to 0 below and to inf above: no subnormal results


def exp(x):
    """eˣ element-wise from IEEE +, ×, rint and ldexp alone (the same bits on every CPU, and in the
    kernels): 2ᵏ · Σ_{n=0}^{13} rⁿ/n! with k = rint(x/ln 2), r = (x − k·LN2_HI) − k·LN2_LO;
    0 for x < −708, inf for x > 709; within 2 ulp of the true value."""
    x = np.asarray(x, dtype=np.float64)
    xc = np.clip(x, EXP_MIN, EXP_MAX)
    k = np.rint(xc * INV_LN2)
    r = (xc - k * LN2_HI) - k * LN2_LO
    p = np.full_like(r, 1.0 / math.factorial(EXP_DEGREE))
    for n in range(EXP_DEGREE - 1, -1, -1):
        p *= r
        p += 1.0 / math.factorial(n)
    with np.errstate(invalid="ignore"):  # NaN arguments stay NaN
        e = np.ldexp(p, k.astype(np.int32))
    return np.where(x < EXP_MIN, 0.0, np.where(x > EXP_MAX, np.inf, e))


def p_up(f):
    """Heat-bath probability of sᵢ = +1 in local field f: 1 / (1 + exp(−2f)), with :func:`exp`."""
    return 1.0 / (1.0 + exp(-2.0 * f))


# ---------------------------------------------------------------------------- lattice
def lattice_tables(J, h, rule):
    """Lookup table of the update probability, indexed by 3n + s + 13 (n the neighbour sum, s the spin).

    Metropolis: probability of accepting the flip of s, exp(−2s(Jn + h)) (values above 1 accept
    always). Glauber: p₊(Jn + h), the same for both values of s.
    """
    n, s = np.repeat(np.arange(-4, 5), 3), np.tile([-1, 0, 1], 9)  # index 3n + s + 13; s = 0 unused
    f = J * n + h
    return exp(-2.0 * s * f) if rule == "metropolis" else p_up(f)


def check_lattice_shape(L, boundary):
    """Checkerboard sweeps need an even L (an odd torus has no checkerboard)."""
    if L % 2:
        raise InputError(f"the samplers need an even L for checkerboard sweeps, got L = {L} ({boundary} boundary)")


def split_checkerboard(grid):
    """(C, L, L) → (black, white), each (C, L, L/2): black[:, r, k] = grid[:, r, 2k + r%2],
    white[:, r, k] = grid[:, r, 2k + 1 − r%2]."""
    black = np.empty(grid.shape[:2] + (grid.shape[2] // 2,), dtype=grid.dtype)
    white = np.empty_like(black)
    black[:, 0::2], black[:, 1::2] = grid[:, 0::2, 0::2], grid[:, 1::2, 1::2]
    white[:, 0::2], white[:, 1::2] = grid[:, 0::2, 1::2], grid[:, 1::2, 0::2]
    return black, white


def merge_checkerboard(black, white, grid):
    """Inverse of :func:`split_checkerboard`, written into ``grid``."""
    grid[:, 0::2, 0::2], grid[:, 1::2, 1::2] = black[:, 0::2], black[:, 1::2]
    grid[:, 0::2, 1::2], grid[:, 1::2, 0::2] = white[:, 0::2], white[:, 1::2]


def neighbour_sum(other, colour, periodic, out):
    """Sum of the four neighbours (all of the other colour) of every site of one colour.

    Vertical neighbours of (r, k) are other[r ± 1, k]; horizontal ones are other[r, k] and
    other[r, k − 1] or other[r, k + 1]: k − 1 on even rows for black and on odd rows for white,
    k + 1 otherwise. Open boundaries count missing neighbours as 0.
    """
    np.copyto(out, other)
    out[:, 1:] += other[:, :-1]
    out[:, :-1] += other[:, 1:]
    left_rows, right_rows = (slice(0, None, 2), slice(1, None, 2)) if colour == "black" else (slice(1, None, 2), slice(0, None, 2))
    out[:, left_rows, 1:] += other[:, left_rows, :-1]
    out[:, right_rows, :-1] += other[:, right_rows, 1:]
    if periodic:
        out[:, 0] += other[:, -1]
        out[:, -1] += other[:, 0]
        out[:, left_rows, 0] += other[:, left_rows, -1]
        out[:, right_rows, -1] += other[:, right_rows, 0]
    return out


def lattice_half_sweep(spins, other, colour, table, rule, u, periodic, index):
    """Update every site of one colour (``spins``, (C, L, L/2)) given the other colour's spins."""
    neighbour_sum(other, colour, periodic, index)
    index *= 3
    index += spins
    index += 13  # 3n + s + 13
    accept = (u < table[index]).view(np.int8)  # 1 where the update says "flip" / "up"
    if rule == "metropolis":
        spins *= 1 - 2 * accept
    else:
        np.subtract(2 * accept, 1, out=spins)


def lattice_sweep(grid, J, h, rule, uniforms, boundary="periodic"):
    """One checkerboard sweep (black sites, then white) of (C, L, L) ``grid`` with given uniforms (C, L, L)."""
    black, white = split_checkerboard(grid)
    u_black, u_white = split_checkerboard(uniforms)
    table = lattice_tables(J, h, rule)
    nn = np.empty_like(black)
    periodic = boundary == "periodic"
    lattice_half_sweep(black, white, "black", table, rule, u_black, periodic, nn)
    lattice_half_sweep(white, black, "white", table, rule, u_white, periodic, nn)
    merge_checkerboard(black, white, grid)


# ---------------------------------------------------------------------------- pairwise
def pairwise_sweep(spins, h, J, rule, uniforms):
    """One sequential sweep (i = 0..N−1) of (C, N) ``spins`` with given uniforms (C, N).

    Works on the transposes (N, C), so that site i of every chain is one contiguous row.
    """
    S, U = np.ascontiguousarray(spins.T, dtype=np.float64), np.ascontiguousarray(uniforms.T)
    N = S.shape[0]
    for start in range(0, N, PAIRWISE_BLOCK):
        stop = min(start + PAIRWISE_BLOCK, N)
        fields = h[start:stop, None] + J[start:stop] @ S  # fᵢ of the block's sites, (b, C)
        for k, i in enumerate(range(start, stop)):
            s, f, u = S[i], fields[k], U[i]
            if rule == "metropolis":
                new = np.where(u < exp(-2.0 * s * f), -s, s)
            else:
                new = np.where(u < p_up(f), 1.0, -1.0)
            fields[k + 1:] += np.outer(J[start + k + 1:stop, i], new - s)
            S[i] = new
    spins[...] = S.T


# ---------------------------------------------------------------------------- kinetic
def kinetic_step(spins, h, J, uniforms):
    """One parallel Glauber step of (C, N) ``spins``: sᵢ ← +1 where u < p₊(hᵢ + Σⱼ Jᵢⱼsⱼ), else −1."""
    H = h + spins.astype(np.float64) @ J.T
    spins[...] = np.where(uniforms < p_up(H), 1, -1)


# ---------------------------------------------------------------------------- backend
class NumpyBackend(Backend):
    """The reference backend: one numpy Generator drives every chain of the process."""

    name = "numpy"

    def make_rng(self, seed_seq, n_chains):
        return np.random.default_rng(seed_seq)

    def _uniforms(self, rng, uniforms, t, shape):
        return uniforms[t] if uniforms is not None else rng.random(shape)

    def lattice_sweeps(self, spins, J, h, boundary, rule, n_sweeps, rng=None, uniforms=None):
        check_rule(rule)
        check_lattice_shape(spins.shape[-1], boundary)
        black, white = split_checkerboard(spins)
        table = lattice_tables(J, h, rule)
        nn = np.empty_like(black)
        periodic = boundary == "periodic"
        for t in range(n_sweeps):
            if uniforms is None:
                u_black, u_white = rng.random(black.shape), rng.random(white.shape)
            else:
                u_black, u_white = split_checkerboard(uniforms[t])
            lattice_half_sweep(black, white, "black", table, rule, u_black, periodic, nn)
            lattice_half_sweep(white, black, "white", table, rule, u_white, periodic, nn)
        merge_checkerboard(black, white, spins)

    def pairwise_sweeps(self, spins, h, J, rule, n_sweeps, rng=None, uniforms=None):
        check_rule(rule)
        with blas_threads(1):  # the block products are small: one thread is fastest
            for t in range(n_sweeps):
                pairwise_sweep(spins, h, J, rule, self._uniforms(rng, uniforms, t, spins.shape))

    def kinetic_steps(self, spins, h, J, n_steps, rng=None, uniforms=None, out=None):
        for t in range(n_steps):
            kinetic_step(spins, h, J, self._uniforms(rng, uniforms, t, spins.shape))
            if out is not None:
                out[t] = spins

    def sufficient_statistics(self, spins):
        S = spins.astype(np.float64)
        return S.sum(axis=0), S.T @ S
