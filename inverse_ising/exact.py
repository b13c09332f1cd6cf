"""The exact oracle (SPEC §4): everything about a small Ising model by enumerating its 2^N states.

Every sampler and learner of the package is tested against this module, so it is written for
clarity and checked against a plain ``itertools.product`` sum (tests/test_exact.py).

Model and conventions
---------------------
A model with N ≤ 20 spins sᵢ ∈ {−1, +1} and log weight

    log w(s) = Σᵢ hᵢsᵢ + ½ Σᵢⱼ Jᵢⱼsᵢsⱼ = Σᵢ hᵢsᵢ + Σ_{i<j} Jᵢⱼsᵢsⱼ,    p(s) = w(s)/Z,

(J symmetric, zero diagonal; β = 1, positive J ferromagnetic).  A ``LatticeIsing`` is enumerated
through its ``to_pairwise()`` form, which has the same log weight J Σ_⟨ij⟩ sᵢsⱼ + h Σᵢ sᵢ.
The energy of a state is E(s) = −log w(s) and its magnetisation per spin m(s) = Σᵢ sᵢ / N.

State k ∈ [0, 2^N) has sᵢ = +1 exactly when bit i of k is set.

Enumeration in bounded memory
-----------------------------
The spins are split into C "low" spins (the first C = log₂(chunk_size) ones) and N − C "high"
spins.  For one block of high configurations s_H the log weights of all 2^C low configurations s_C
form a (B, 2^C) array

    log w = [h_C·s_C + ½ s_C J_CC s_C] + s_H J_HC s_C + [h_H·s_H + ½ s_H J_HH s_H],

whose first and last terms are tabulated once per pass.  Chunks are combined with a running
log-sum-exp: with a running reference r ≥ max log w seen so far, every accumulator A holds
Σ e^{log w − r}·(observable); when a chunk raises the maximum to r' all accumulators are multiplied
by e^{r − r'}.  Peak memory is a few arrays of chunk_size doubles (≈ 10 MB at the default
2^16), independent of N.  At N = 20 one pass (ln Z and all moments) takes well under a second.

Thermodynamics (per spin)
-------------------------
    energy         u = ⟨E⟩/N                          specific_heat  c = (⟨E²⟩ − ⟨E⟩²)/N
    abs_m          ⟨|m|⟩,  m2 = ⟨m²⟩,  m4 = ⟨m⁴⟩      susceptibility χ = N(⟨m²⟩ − ⟨m⟩²)
    binder         U = 1 − ⟨m⁴⟩/(3⟨m²⟩²)              connected      Cᵢⱼ = ⟨sᵢsⱼ⟩ − ⟨sᵢ⟩⟨sⱼ⟩
The energy variance is accumulated chunk by chunk with the pairwise (Chan et al.) update of the
weighted mean and sum of squared deviations, so it carries no ⟨E²⟩ − ⟨E⟩² cancellation.
For a ``LatticeIsing``, ``lattice_energy`` = −⟨Σ_⟨ij⟩ sᵢsⱼ⟩/N is the energy per spin in units of
J, the u of Onsager and Kaufman (``energy`` = J·lattice_energy − h⟨m⟩).
"""
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .errors import InputError
from .models import LatticeIsing, PairwiseIsing
from .validation import as_positive_int, as_scalar, as_spins

#: Largest number of spins the oracle enumerates (2^20 ≈ 10⁶ states).
MAX_SPINS = 20
#: Default number of states per chunk.
DEFAULT_CHUNK = 1 << 16


# ---------------------------------------------------------------------------------------------
# Enumeration engine
# ---------------------------------------------------------------------------------------------

def _spin_table(n, start=0, stop=None):
    """Spins of states start … stop−1 as a float64 (stop − start, n) array: sᵢ = +1 iff bit i set."""
    stop = (1 << n) if stop is None else stop
    k = np.arange(start, stop, dtype=np.int64)[:, None]
    return ((k >> np.arange(n, dtype=np.int64)) & 1).astype(np.float64) * 2.0 - 1.0


def _quadratic(S, h, J):
    """Σᵢ hᵢsᵢ + ½ Σᵢⱼ Jᵢⱼsᵢsⱼ for every row of S."""
    return S @ h + 0.5 * np.einsum("ki,ki->k", S @ J, S)


def _model_params(model, what="the exact oracle"):
    """(h, J, lattice-or-None) of an equilibrium model with at most MAX_SPINS spins."""
    if isinstance(model, PairwiseIsing):
        pw, lattice = model, None
    elif isinstance(model, LatticeIsing):
        pw, lattice = None, model
    elif hasattr(model, "to_pairwise") and hasattr(model, "n_spins"):
        pw, lattice = model.to_pairwise(), None
    else:
        raise InputError(
            f"{what} needs an equilibrium model (PairwiseIsing or LatticeIsing), got {type(model).__name__}"
        )
    n = model.n_spins
    if n > MAX_SPINS:
        hint = " (for an L×L torus at h = 0 use kaufman_log_z / kaufman_energy)" if lattice is not None else ""
        raise InputError(
            f"{what} enumerates all 2^N states and is limited to N <= {MAX_SPINS} spins; "
            f"this model has N = {n}{hint}"
        )
    if lattice is not None:
        pw = lattice.to_pairwise()
    return pw.h, pw.J, lattice


def _as_chunk_size(chunk_size):
    chunk_size = as_positive_int(chunk_size, "chunk_size", minimum=1)
    return 1 << (chunk_size.bit_length() - 1)  # round down to a power of two


class _Blocks:
    """Chunked enumeration of the log weights of a pairwise model (see the module docstring)."""

    def __init__(self, h, J, chunk_size=DEFAULT_CHUNK):
        n = h.size
        chunk_size = _as_chunk_size(chunk_size)
        self.n = n
        self.C = c = min(n, chunk_size.bit_length() - 1)
        self.H = n - c
        self.B = max(1, chunk_size >> c)  # high configurations per chunk
        self.S_low = _spin_table(c)
        self.h_high, self.J_high = h[c:], J[c:, c:]
        self.J_hl = J[c:, :c]
        self.base_low = _quadratic(self.S_low, h[:c], J[:c, :c])
        self.nup_low = np.rint((self.S_low.sum(axis=1) + c) / 2).astype(np.int64)

    @property
    def n_chunks(self):
        return -(-(1 << self.H) // self.B)

    def chunks(self):
        """Yield (first state index, high spins (B, H), log weights (B, 2^C)) chunk by chunk.

        Row b, column l of a chunk is the state k = first + b·2^C + l.
        """
        n_high = 1 << self.H
        for start in range(0, n_high, self.B):
            S_high = _spin_table(self.H, start, min(start + self.B, n_high))
            lw = (S_high @ self.J_hl) @ self.S_low.T
            lw += self.base_low[None, :]
            lw += _quadratic(S_high, self.h_high, self.J_high)[:, None]
            yield start << self.C, S_high, lw


class _MomentSums:
    """Σ w·sᵢ and Σ w·sᵢsⱼ over the states, accumulated chunk by chunk for weights w (B, 2^C)."""

    def __init__(self, blocks):
        self.blocks = blocks
        c, hb = blocks.C, blocks.H
        self.low = np.zeros(1 << c)  # Σ over high configurations of w, per low configuration
        self.high = np.zeros(hb)
        self.high_high = np.zeros((hb, hb))
        self.high_low = np.zeros((hb, c))

    def scale(self, factor):
        for a in (self.low, self.high, self.high_high, self.high_low):
            a *= factor

    def add(self, S_high, w):
        self.low += w.sum(axis=0)
        if self.blocks.H:
            wh = w.sum(axis=1)
            self.high += wh @ S_high
            self.high_high += (S_high.T * wh) @ S_high
            self.high_low += (S_high.T @ w) @ self.blocks.S_low

    def result(self, norm):
        """(Σ w sᵢ, Σ w sᵢsⱼ) / norm as an (N,) vector and an (N, N) matrix."""
        S_low, c = self.blocks.S_low, self.blocks.C
        mean = np.concatenate([self.low @ S_low, self.high]) / norm
        second = np.empty((self.blocks.n, self.blocks.n))
        second[:c, :c] = (S_low.T * self.low) @ S_low
        second[c:, c:] = self.high_high
        second[c:, :c] = self.high_low
        second[:c, c:] = self.high_low.T
        return mean, second / norm


def _log_z(h, J, chunk_size=DEFAULT_CHUNK):
    """ln Z = ln Σ_s e^{log w(s)} by a chunked log-sum-exp."""
    blocks = _Blocks(h, J, chunk_size)
    ref, total = -np.inf, 0.0
    for _, _, lw in blocks.chunks():
        top = lw.max()
        if top > ref:
            total *= math.exp(ref - top)
            ref = top
        total += np.exp(lw - ref).sum()
    return ref + math.log(total)


def _moments(h, J, chunk_size=DEFAULT_CHUNK):
    """ln Z, ⟨sᵢ⟩ and ⟨sᵢsⱼ⟩ in one pass (used by the fits, which need nothing else)."""
    blocks = _Blocks(h, J, chunk_size)
    sums = _MomentSums(blocks)
    ref, total = -np.inf, 0.0
    for _, S_high, lw in blocks.chunks():
        top = lw.max()
        if top > ref:
            factor = math.exp(ref - top)
            total *= factor
            sums.scale(factor)
            ref = top
        w = np.exp(lw - ref)
        total += w.sum()
        sums.add(S_high, w)
    mean, second = sums.result(total)
    np.fill_diagonal(second, 1.0)
    return ref + math.log(total), mean, second


# ---------------------------------------------------------------------------------------------
# exact_solve
# ---------------------------------------------------------------------------------------------

@dataclass
class ExactSolution:
    """Exact equilibrium properties of a model with N ≤ 20 spins (see the module docstring).

    ``magnetisation_pmf[k]`` is the probability that k spins are up, i.e. that
    m = (2k − N)/N.  ``lattice_energy`` is −⟨Σ_⟨ij⟩ sᵢsⱼ⟩/N for a ``LatticeIsing`` (the energy per
    spin in units of J, comparable with Onsager and Kaufman) and None for a pairwise model.
    """

    n_spins: int
    log_z: float
    mean: np.ndarray
    second_moment: np.ndarray
    connected: np.ndarray
    energy: float
    specific_heat: float
    abs_m: float
    m2: float
    m4: float
    susceptibility: float
    binder: float
    magnetisation_pmf: np.ndarray
    lattice_energy: Optional[float] = None

    @property
    def free_energy(self):
        """Free energy per spin, f = −ln Z / N (β = 1)."""
        return -self.log_z / self.n_spins


def exact_solve(model, chunk_size=DEFAULT_CHUNK):
    """Enumerate the 2^N states of ``model`` (N ≤ 20) and return an :class:`ExactSolution`.

    ln Z = ln Σ_s exp(log w(s));  ⟨sᵢ⟩ = Σ_s p(s) sᵢ;  ⟨sᵢsⱼ⟩ = Σ_s p(s) sᵢsⱼ (diagonal 1);
    per-spin thermodynamics from E = −log w(s) and m = Σᵢsᵢ/N:
    u = ⟨E⟩/N, c = Var(E)/N, ⟨|m|⟩, ⟨m²⟩, ⟨m⁴⟩, χ = N(⟨m²⟩ − ⟨m⟩²), U = 1 − ⟨m⁴⟩/(3⟨m²⟩²).

    ``model`` is a PairwiseIsing or a LatticeIsing (enumerated through ``to_pairwise()``).
    ``chunk_size`` (states per chunk, rounded down to a power of two) bounds the memory only; the
    results do not depend on it beyond rounding.  Raises InputError for N > 20.
    """
    h, J, lattice = _model_params(model, "exact_solve")
    n = h.size
    blocks = _Blocks(h, J, chunk_size)
    sums = _MomentSums(blocks)
    pmf = np.zeros(n + 1)  # weight per number of up spins
    onehot_low = np.zeros((1 << blocks.C, blocks.C + 1))
    onehot_low[np.arange(1 << blocks.C), blocks.nup_low] = 1.0
    offsets = np.arange(blocks.C + 1)
    ref, total, e_mean, e_ss = -np.inf, 0.0, 0.0, 0.0
    for _, S_high, lw in blocks.chunks():
        top = lw.max()
        if top > ref:
            factor = math.exp(ref - top)
            total *= factor
            e_ss *= factor
            pmf *= factor
            sums.scale(factor)
            ref = top
        w = np.exp(lw - ref)
        w_sum = w.sum()
        # Weighted mean and sum of squared deviations of E = −log w, merged into the running ones.
        c_mean = -(w * lw).sum() / w_sum
        c_ss = (w * (lw + c_mean) ** 2).sum()
        new_total = total + w_sum
        delta = c_mean - e_mean
        e_mean += delta * w_sum / new_total
        e_ss += c_ss + delta * delta * total * w_sum / new_total
        total = new_total
        sums.add(S_high, w)
        nup_high = np.rint((S_high.sum(axis=1) + blocks.H) / 2).astype(np.int64)
        np.add.at(pmf, nup_high[:, None] + offsets[None, :], w @ onehot_low)
    mean, second = sums.result(total)
    np.fill_diagonal(second, 1.0)
    pmf /= total
    m = (2.0 * np.arange(n + 1) - n) / n
    m1, m2, m4 = float(pmf @ m), float(pmf @ m**2), float(pmf @ m**4)
    lattice_energy = None
    if lattice is not None:
        bonds = LatticeIsing(lattice.L, 1.0, 0.0, lattice.boundary).to_pairwise().J  # bond counts
        lattice_energy = float(-0.5 * np.sum(bonds * second) / n)
    return ExactSolution(
        n_spins=n,
        log_z=float(ref + math.log(total)),
        mean=mean,
        second_moment=second,
        connected=second - np.outer(mean, mean),
        energy=float(e_mean / n),
        specific_heat=float(e_ss / total / n),
        abs_m=float(pmf @ np.abs(m)),
        m2=m2,
        m4=m4,
        susceptibility=float(n * (m2 - m1 * m1)),
        binder=float(1.0 - m4 / (3.0 * m2 * m2)),
        magnetisation_pmf=pmf,
        lattice_energy=lattice_energy,
    )


def exact_log_z(model, chunk_size=DEFAULT_CHUNK):
    """ln Z = ln Σ_s exp(log w(s)) of a model with N ≤ 20 spins (a cheaper pass than exact_solve)."""
    h, J, _ = _model_params(model, "exact_log_z")
    return float(_log_z(h, J, chunk_size))


def _as_data(X, n, what):
    S = as_spins(X, name="X")
    if S.ndim == 1:
        S = S.reshape(1, -1)
    if S.ndim != 2:
        raise InputError(f"X must be a 2-D (samples, spins) array, got shape {S.shape}")
    if n is not None and S.shape[1] != n:
        raise InputError(
            f"X has {S.shape[1]} columns (spins) but {what} has {n} spins"
            + (f"; did you mean X.T (shape {S.shape[::-1]})?" if S.shape[0] == n else "")
        )
    return S


def log_likelihood(model, X, log_z=None, chunk_size=DEFAULT_CHUNK):
    """Mean log-likelihood per sample, (1/M) Σ_μ log p(s^μ) = (1/M) Σ_μ log w(s^μ) − ln Z.

    ``X`` is an (M, N) array of ±1 spins or 0/1 values (s = 2x − 1).  ``log_z`` may be passed if
    it is already known; otherwise it is computed by enumeration (N ≤ 20).
    """
    if log_z is None:
        h, J, _ = _model_params(model, "log_likelihood")
        log_z = _log_z(h, J, chunk_size)
    S = _as_data(X, model.n_spins, "the model")
    return float(np.mean(model.log_weight(S)) - log_z)


# ---------------------------------------------------------------------------------------------
# Exact sampling
# ---------------------------------------------------------------------------------------------

def exact_sample(model, n_samples, seed=None, chunk_size=DEFAULT_CHUNK):
    """``n_samples`` independent exact draws from p(s) as an (n_samples, N) int8 array of ±1.

    Two passes over the states: the first gives the log mass c_b = ln Σ_{s∈b} w(s) of every chunk
    b; the number of draws per chunk is multinomial with probabilities e^{c_b − ln Z}; the draws
    inside a chunk are found by inverting its cumulative weights (``searchsorted`` of uniforms);
    finally the rows are randomly permuted so they form an i.i.d. sequence.  Memory is one chunk
    plus the output.  ``seed`` is anything ``numpy.random.default_rng`` accepts (None, an int, a
    ``SeedSequence`` or a ``Generator``).
    """
    h, J, _ = _model_params(model, "exact_sample")
    n_samples = as_positive_int(n_samples, "n_samples", minimum=1)
    rng = np.random.default_rng(seed)
    blocks = _Blocks(h, J, chunk_size)
    chunk_log_mass = []
    for _, _, lw in blocks.chunks():
        top = lw.max()
        chunk_log_mass.append(top + math.log(np.exp(lw - top).sum()))
    chunk_log_mass = np.array(chunk_log_mass)
    probs = np.exp(chunk_log_mass - chunk_log_mass.max())
    counts = rng.multinomial(n_samples, probs / probs.sum())
    out = np.empty((n_samples, blocks.n), dtype=np.int8)
    bits = np.arange(blocks.n, dtype=np.int64)
    pos = 0
    for b, (first, _, lw) in enumerate(blocks.chunks()):
        count = counts[b]
        if count == 0:
            continue
        cdf = np.cumsum(np.exp(lw.ravel() - chunk_log_mass[b]))
        idx = np.searchsorted(cdf, rng.random(count) * cdf[-1], side="right")
        k = first + np.minimum(idx, cdf.size - 1)
        out[pos:pos + count] = ((k[:, None] >> bits) & 1).astype(np.int8) * 2 - 1
        pos += count
    return out[rng.permutation(n_samples)]


# ---------------------------------------------------------------------------------------------
# Magnetisation distribution of an L×L torus by transfer matrix (beyond enumeration)
# ---------------------------------------------------------------------------------------------

#: Largest torus :func:`lattice_magnetisation` accepts (L = 8 takes well under a second).
MAX_TRANSFER_L = 10


def _m_moments(pmf, n):
    """(⟨m⟩, ⟨|m|⟩, ⟨m²⟩, ⟨m⁴⟩) from the probabilities of k = 0 … N up spins, m = (2k − N)/N."""
    m = (2.0 * np.arange(n + 1) - n) / n
    return float(pmf @ m), float(pmf @ np.abs(m)), float(pmf @ m**2), float(pmf @ m**4)


@dataclass
class MagnetisationDistribution:
    """Exact distribution of the magnetisation of a periodic L×L ``LatticeIsing``.

    ``pmf[k]`` is the probability that k of the N = L² spins are up (m = (2k − N)/N), ``log_z`` is
    ln Z.  The properties give ⟨m⟩, ⟨|m|⟩, ⟨m²⟩, ⟨m⁴⟩, χ = N(⟨m²⟩ − ⟨m⟩²) and the Binder cumulant.
    """

    L: int
    log_z: float
    pmf: np.ndarray

    @property
    def n_spins(self):
        return self.L * self.L

    @property
    def mean_m(self):
        return _m_moments(self.pmf, self.n_spins)[0]

    @property
    def abs_m(self):
        return _m_moments(self.pmf, self.n_spins)[1]

    @property
    def m2(self):
        return _m_moments(self.pmf, self.n_spins)[2]

    @property
    def m4(self):
        return _m_moments(self.pmf, self.n_spins)[3]

    @property
    def susceptibility(self):
        m1, _, m2, _ = _m_moments(self.pmf, self.n_spins)
        return self.n_spins * (m2 - m1 * m1)

    @property
    def binder(self):
        _, _, m2, m4 = _m_moments(self.pmf, self.n_spins)
        return 1.0 - m4 / (3.0 * m2 * m2)


def lattice_magnetisation(model):
    """ln Z and the exact distribution of M = Σᵢsᵢ of a periodic ``LatticeIsing`` with L ≤ 10.

    Reaches tori that enumeration cannot (L = 5 … 10) with a site-by-site transfer matrix:
    row 0 is fixed, the remaining sites are added one at a time in row-major order while an array
    A[row 0, frontier, k] carries the summed weight of every partial configuration with the given
    *frontier* (the most recent spin of each column) and k up spins so far.  Adding site (r, c)
    with spin s multiplies by exp(J s (s_up + s_left + [c = L−1] s_right)) — all three neighbours
    are in the frontier — and shifts k by [s = +1].  Closing the torus multiplies by the vertical
    bonds between the last frontier and row 0.  Row 0 runs only over cyclic-shift classes (the
    torus is translation invariant), weighted by their size.  The field enters at the end:
    P(k) ∝ P_{h=0}(k) e^{h(2k − N)}.  Cost ~ (2^L/L)·2^L·L²·L²; L = 8 takes a fraction of a second.
    """
    if not isinstance(model, LatticeIsing):
        raise InputError(f"lattice_magnetisation needs a LatticeIsing, got {type(model).__name__}")
    if model.boundary != "periodic":
        raise InputError("lattice_magnetisation handles periodic boundaries only; use exact_solve for small open lattices")
    L, K = model.L, model.J
    if L > MAX_TRANSFER_L:
        raise InputError(f"lattice_magnetisation is limited to L <= {MAX_TRANSFER_L}, got L = {L}")
    n = L * L
    n_rows = 1 << L
    rows = _spin_table(L)  # (2^L, L): spins of every row configuration
    # One representative per cyclic-shift class of row 0, with the class size.
    codes = np.arange(n_rows)
    mask = n_rows - 1
    rotations = np.stack([((codes >> r) | (codes << (L - r))) & mask for r in range(L)])
    canon = rotations.min(axis=0)
    reps, mult = np.unique(canon, return_counts=True)
    R = reps.size
    nup_rows = np.rint((rows.sum(axis=1) + L) / 2).astype(np.int64)

    # Initial state: frontier = row 0, weight = its horizontal bonds.
    start = rows[reps]
    A = np.zeros((R, n_rows, n + 1))
    # Every Boltzmann factor is divided by its largest possible value (e^{|K|} per bond), so
    # nothing overflows however large K is; log_scale keeps track of what was taken out.
    a = abs(K)
    A[np.arange(R), reps, nup_rows[reps]] = np.exp(K * np.sum(start * np.roll(start, -1, axis=1), axis=1) - L * a)
    log_scale = L * a
    spin = np.array([-1.0, 1.0])  # index 0 ↔ s = −1, index 1 ↔ s = +1 (bit value)
    for r in range(1, L):
        for c in range(L):
            lo = 1 << c
            lo_spins = _spin_table(c) if c else np.zeros((1, 0))
            neigh = np.zeros(lo)
            if c >= 1:
                neigh += lo_spins[:, c - 1]  # left neighbour (this row)
            if c == L - 1:
                neigh += lo_spins[:, 0]  # right neighbour across the seam (this row)
            n_bonds = 1 + (c >= 1) + (c == L - 1)  # up, left, seam
            B = A.reshape(R, n_rows >> (c + 1), 2, lo, n + 1)
            new = np.zeros_like(B)
            for b_new in (0, 1):
                s = spin[b_new]
                for b_old in (0, 1):
                    w = np.exp(K * s * (spin[b_old] + neigh) - a * n_bonds)[:, None]  # (lo, 1)
                    if b_new:
                        new[:, :, 1, :, 1:] += B[:, :, b_old, :, :-1] * w
                    else:
                        new[:, :, 0, :, :] += B[:, :, b_old, :, :] * w
            A = new.reshape(R, n_rows, n + 1)
            log_scale += a * n_bonds
        top = A.max()
        A /= top
        log_scale += math.log(top)
    # Close the torus: vertical bonds between the last row (frontier) and row 0.
    closing = np.exp(K * (start @ rows.T) - L * a)  # (R, 2^L)
    log_scale += L * a
    weights = mult @ np.einsum("rf,rfk->rk", closing, A)  # (n + 1,), times e^{log_scale}
    with np.errstate(divide="ignore"):
        log_w = np.log(weights) + model.h * (2.0 * np.arange(n + 1) - n)
    top = log_w.max()
    total = np.exp(log_w - top).sum()
    return MagnetisationDistribution(L=L, log_z=float(log_scale + top + math.log(total)),
                                     pmf=np.exp(log_w - top) / total)


# ---------------------------------------------------------------------------------------------
# Exact maximum likelihood
# ---------------------------------------------------------------------------------------------

@dataclass
class MLEInfo:
    """Convergence record of :func:`exact_mle`."""

    method: str
    iterations: int
    converged: bool
    grad_max: float  # max |∂(objective)/∂θ| at the solution
    log_likelihood: float  # mean log-likelihood per sample of the data moments (no penalty)
    objective: float  # log_likelihood − l2 (‖h‖² + Σ_{i<j} Jᵢⱼ²)


def _check_moments(mean, second, n_samples):
    mean = np.asarray(mean, dtype=float)
    second = np.asarray(second, dtype=float)
    if mean.ndim != 1 or mean.size == 0:
        raise InputError(f"moments: the mean must be a non-empty vector, got shape {mean.shape}")
    n = mean.size
    if second.shape != (n, n):
        raise InputError(f"moments: the second moment must have shape ({n}, {n}), got {second.shape}")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(second))):
        raise InputError("moments contain a non-finite value")
    if np.any(np.abs(mean) > 1 + 1e-12) or np.any(np.abs(second) > 1 + 1e-12):
        raise InputError("moments of ±1 spins must lie in [-1, 1]")
    if np.max(np.abs(second - second.T)) > 1e-10:
        raise InputError("moments: the second moment <s_i s_j> must be symmetric")
    if n_samples is not None:
        n_samples = as_positive_int(n_samples, "n_samples", minimum=1)
    second = 0.5 * (second + second.T)
    np.fill_diagonal(second, 1.0)
    return np.clip(mean, -1.0, 1.0), np.clip(second, -1.0, 1.0), n_samples


def _check_separable(mean, second, n_samples):
    """Raise InputError if the data make the unregularised MLE infinite (first offending spin/pair).

    A spin that never flips needs hᵢ = ±∞.  A pair (i, j) that never takes one of the four
    joint values (a, b) — the fraction (1 + a⟨sᵢ⟩ + b⟨sⱼ⟩ + ab⟨sᵢsⱼ⟩)/4 is zero — needs Jᵢⱼ = ±∞.
    """
    tiny = 1e-12 if n_samples is None else max(1e-12, 0.25 / n_samples)
    fix = " : the maximum-likelihood model is infinite; pass l2 > 0 to regularise"
    up = (1.0 + mean) / 2.0
    for i in range(mean.size):
        if up[i] <= tiny or up[i] >= 1.0 - tiny:
            value = "+1" if up[i] >= 0.5 else "-1"
            raise InputError(f"spin {i} is {value} in every sample (it never flips){fix} (field h[{i}] -> {value}inf)")
    n = mean.size
    for i in range(n):
        for j in range(i + 1, n):
            for a in (1, -1):
                for b in (1, -1):
                    frac = (1.0 + a * mean[i] + b * mean[j] + a * b * second[i, j]) / 4.0
                    if frac <= tiny:
                        raise InputError(
                            f"spins {i} and {j} are never ({a:+d}, {b:+d}) together{fix} "
                            f"(coupling J[{i},{j}] -> {'-' if a * b > 0 else '+'}inf)"
                        )


def _newton(features, d, theta, l2, tol, max_iter):
    """Damped Newton on f(θ) = ln Z(θ) − θ·d + l2‖θ‖² with the exact Hessian Cov(φ) + 2 l2 I."""
    P = d.size

    def evaluate(theta):
        lw = features @ theta
        top = lw.max()
        w = np.exp(lw - top)
        z = w.sum()
        p = w / z
        mu = p @ features
        f = top + math.log(z) - theta @ d + l2 * theta @ theta
        return f, p, mu

    f, p, mu = evaluate(theta)
    it = 0
    converged = False
    while True:
        g = mu - d + 2.0 * l2 * theta
        if np.max(np.abs(g)) <= tol:
            converged = True
            break
        if it >= max_iter:
            break
        it += 1
        H = (features.T * p) @ features - np.outer(mu, mu) + 2.0 * l2 * np.eye(P)
        try:
            step = -np.linalg.solve(H + 1e-12 * np.eye(P), g)
        except np.linalg.LinAlgError:
            step = -g
        t, slope = 1.0, g @ step
        while True:
            f_new, p_new, mu_new = evaluate(theta + t * step)
            if f_new <= f + 1e-4 * t * slope or t < 1e-10:
                break
            t *= 0.5
        if t < 1e-10:  # no decrease possible at double precision
            break
        theta = theta + t * step
        f, p, mu = f_new, p_new, mu_new
    g = mu - d + 2.0 * l2 * theta
    return theta, it, converged, float(np.max(np.abs(g))), f


def _hessp(h, J, log_z, mu, v, l2, chunk_size):
    """(Cov_θ(φ) + 2 l2 I)·v in one enumeration pass, φ = (sᵢ, sᵢsⱼ (i<j)), μ = ⟨φ⟩_θ.

    φ(s)·v is the quadratic form g(s) = Σᵢ vᵢsᵢ + Σ_{i<j} v_{ij}sᵢsⱼ, so
    Cov(φ)·v = Σ_s p(s) (g(s) − μ·v) φ(s): the first and second moments under the signed
    weights p(s)(g(s) − μ·v).
    """
    n = h.size
    iu = np.triu_indices(n, 1)
    hv, Jv = _unpack(v, n)
    blocks, dirs = _Blocks(h, J, chunk_size), _Blocks(hv, Jv, chunk_size)
    sums = _MomentSums(blocks)
    gbar = mu @ v
    for (_, S_high, lw), (_, _, g) in zip(blocks.chunks(), dirs.chunks()):
        sums.add(S_high, np.exp(lw - log_z) * (g - gbar))
    a, A = sums.result(1.0)
    return np.concatenate([a, A[iu]]) + 2.0 * l2 * v


def _unpack(theta, n):
    """θ = (h, J_{i<j}) → (h, symmetric J)."""
    iu = np.triu_indices(n, 1)
    J = np.zeros((n, n))
    J[iu] = theta[n:]
    return theta[:n], J + J.T


def _by_passes(n, d, theta, l2, tol, max_iter, chunk_size):
    """Minimise f(θ) = ln Z(θ) − θ·d + l2‖θ‖² with one enumeration pass per gradient.

    L-BFGS first (each gradient ⟨φ⟩_θ − d + 2 l2 θ is one pass), then — because f is only known to
    ~1e−16 relative precision, which stalls line searches near the optimum — Newton steps
    δ = −(Cov(φ) + 2 l2 I)⁻¹ g solved by Jacobi-preconditioned conjugate gradients on
    Hessian-vector products (one pass each), accepted while they reduce max |g|.
    """
    from scipy.optimize import minimize

    iu = np.triu_indices(n, 1)

    def grad(theta):
        h, J = _unpack(theta, n)
        log_z, mean, second = _moments(h, J, chunk_size)
        mu = np.concatenate([mean, second[iu]])
        f = log_z - theta @ d + l2 * theta @ theta
        return f, mu - d + 2.0 * l2 * theta, log_z, mu

    def fun(theta):
        f, g, _, _ = grad(theta)
        return f, g

    res = minimize(fun, theta, jac=True, method="L-BFGS-B",
                   options={"maxiter": max_iter, "maxcor": 30, "ftol": 0.0, "gtol": tol, "maxls": 50})
    theta = res.x
    iterations = int(res.nit)
    f, g, log_z, mu = grad(theta)
    gmax = float(np.max(np.abs(g)))
    for _ in range(50):
        if gmax <= tol:
            break
        iterations += 1
        h, J = _unpack(theta, n)
        precond = 1.0 / (1.0 - mu**2 + 2.0 * l2 + 1e-12)
        # Preconditioned conjugate gradients for H δ = −g.
        x = np.zeros_like(g)
        r = -g
        z = precond * r
        p = z.copy()
        rz = r @ z
        for _ in range(4 * g.size):
            Hp = _hessp(h, J, log_z, mu, p, l2, chunk_size)
            alpha = rz / (p @ Hp)
            x += alpha * p
            r -= alpha * Hp
            if np.max(np.abs(r)) <= 1e-3 * min(gmax, 1e-2) :
                break
            z = precond * r
            rz_new = r @ z
            p = z + (rz_new / rz) * p
            rz = rz_new
        t = 1.0
        for _ in range(20):
            cand = grad(theta + t * x)
            if np.max(np.abs(cand[1])) < gmax:
                break
            t *= 0.5
        else:
            break  # no further progress at double precision
        theta = theta + t * x
        f, g, log_z, mu = cand
        gmax = float(np.max(np.abs(g)))
    return theta, iterations, gmax <= tol, gmax, f


def exact_mle(X=None, l2=0.0, *, moments=None, init=None, tol=1e-8, max_iter=None, method="auto",
              chunk_size=DEFAULT_CHUNK, return_info=False):
    """Exact maximum-likelihood pairwise model of binary data, by enumeration (N ≤ 20).

    Maximises the mean log-likelihood per sample minus an optional L2 penalty,

        ℓ(h, J) = Σᵢ hᵢ⟨sᵢ⟩_data + Σ_{i<j} Jᵢⱼ⟨sᵢsⱼ⟩_data − ln Z(h, J) − l2 (Σᵢ hᵢ² + Σ_{i<j} Jᵢⱼ²),

    which is concave with gradient ∂ℓ/∂hᵢ = ⟨sᵢ⟩_data − ⟨sᵢ⟩_model − 2 l2 hᵢ and
    ∂ℓ/∂Jᵢⱼ = ⟨sᵢsⱼ⟩_data − ⟨sᵢsⱼ⟩_model − 2 l2 Jᵢⱼ (i < j), and Hessian −(Cov_model(φ) + 2 l2 I)
    with φ = (sᵢ, sᵢsⱼ).  At the optimum (l2 = 0) the model reproduces the data's means and pair
    correlations exactly.  Iterates until max |gradient| ≤ ``tol``.

    Parameters
    ----------
    X : (M, N) array of ±1 spins or 0/1 values, or None when ``moments`` is given.
    l2 : penalty strength (per sample, on the mean log-likelihood scale).
    moments : (mean (N,), second_moment (N, N), n_samples or None) instead of X, for learners
        that already hold the data's sufficient statistics.
    init : optional starting PairwiseIsing (default: independent spins, hᵢ = artanh⟨sᵢ⟩).
    method : "newton" (exact Hessian, needs the 2^N × P feature matrix; the default for N ≤ 14),
        "lbfgs" (one enumeration pass per gradient; the default for larger N) or "auto".
    return_info : also return an :class:`MLEInfo`.

    Data that are perfectly separable for some spin or pair (a spin that never flips, a pair
    that never shows one of its four joint states) have no finite unregularised MLE: InputError
    names the spin or pair unless l2 > 0.
    """
    l2 = as_scalar(l2, "l2")
    if l2 < 0:
        raise InputError(f"l2 must be >= 0, got {l2}")
    tol = as_scalar(tol, "tol")
    if (X is None) == (moments is None):
        raise InputError("exact_mle needs exactly one of X (data) or moments=(mean, second_moment, n_samples)")
    if X is not None:
        S = _as_data(X, None, "")
        n_samples = S.shape[0]
        Sf = S.astype(np.float64)
        mean, second = Sf.mean(axis=0), (Sf.T @ Sf) / n_samples
    else:
        try:
            mean, second, n_samples = moments
        except (TypeError, ValueError):
            raise InputError("moments must be a tuple (mean, second_moment, n_samples)") from None
    mean, second, n_samples = _check_moments(mean, second, n_samples)
    n = mean.size
    if n > MAX_SPINS:
        raise InputError(f"exact_mle enumerates all 2^N states and is limited to N <= {MAX_SPINS} spins; the data have N = {n}")
    if l2 == 0.0:
        _check_separable(mean, second, n_samples)
    if method == "auto":
        method = "newton" if n <= 14 else "lbfgs"
    if method not in ("newton", "lbfgs"):
        raise InputError(f"method must be 'auto', 'newton' or 'lbfgs', got {method!r}")

    iu = np.triu_indices(n, 1)
    d = np.concatenate([mean, second[iu]])
    if init is None:
        theta = np.concatenate([np.arctanh(np.clip(mean, -0.999, 0.999)), np.zeros(iu[0].size)])
    else:
        if not isinstance(init, PairwiseIsing) or init.n_spins != n:
            raise InputError(f"init must be a PairwiseIsing with {n} spins")
        theta = np.concatenate([init.h, init.J[iu]])

    if method == "newton":
        S = _spin_table(n)
        features = np.concatenate([S, S[:, iu[0]] * S[:, iu[1]]], axis=1)
        theta, it, converged, gmax, f = _newton(features, d, theta, l2, tol, 200 if max_iter is None else max_iter)
    else:
        theta, it, converged, gmax, f = _by_passes(n, d, theta, l2, tol, 20000 if max_iter is None else max_iter, chunk_size)

    if l2 == 0.0 and np.max(np.abs(theta)) > 50.0:
        raise InputError(
            f"the data lie (close to) the boundary of the moments a pairwise model can reach: the "
            f"maximum-likelihood parameters diverge (|theta| = {np.max(np.abs(theta)):.3g}); pass l2 > 0"
        )
    if not converged:
        import warnings
        warnings.warn(f"exact_mle ({method}) stopped after {it} iterations with max |gradient| = {gmax:.3g} > tol = {tol:g}",
                      RuntimeWarning, stacklevel=2)
    model = PairwiseIsing(*_unpack(theta, n))
    if not return_info:
        return model
    penalty = l2 * float(theta @ theta)
    info = MLEInfo(method=method, iterations=it, converged=converged, grad_max=gmax,
                   log_likelihood=float(-f + penalty), objective=float(-f))
    return model, info
