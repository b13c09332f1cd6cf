"""Population statistics of binary neural data, with error bars, and the 0/1 ↔ ±1 conversion.

A raster is an (T, N) array, one row per time bin and one column per neuron, holding spins
sᵢ(t) ∈ {−1, +1} (0/1 data are mapped by s = 2x − 1, so xᵢ = (sᵢ + 1)/2 is 1 when neuron i
fires in the bin). Several independent recordings (trials) are described by ``trial_starts``,
the row offsets where each begins, as in :class:`inverse_ising.data.Dataset`; delayed
correlations never pair bins across a trial boundary.

Statistics (all in the ±1 representation unless stated)
--------------------------------------------------------
* firing rate         rᵢ = ⟨xᵢ⟩ = (1 + mᵢ)/2, the probability that neuron i fires in a bin
                      (divided by the bin width it is a rate in Hz); mᵢ = ⟨sᵢ⟩.
* equal-time          Cᵢⱼ = ⟨sᵢsⱼ⟩ − mᵢmⱼ  (in 0/1 variables the covariance is Cᵢⱼ/4).
* delayed             Dᵢⱼ(τ) = ⟨sᵢ(t+τ)sⱼ(t)⟩ − mᵢmⱼ, row i the later bin, as in
                      :mod:`inverse_ising.temporal`.
* three-point         Tᵢⱼₖ = ⟨δsᵢ δsⱼ δsₖ⟩, δsᵢ = sᵢ − mᵢ, the connected third cumulant;
                      = ⟨sᵢsⱼsₖ⟩ − mᵢ⟨sⱼsₖ⟩ − mⱼ⟨sᵢsₖ⟩ − mₖ⟨sᵢsⱼ⟩ + 2mᵢmⱼmₖ
                      (in 0/1 variables it is Tᵢⱼₖ/8).
* population count    P(K), K = Σᵢ xᵢ = (Σᵢ sᵢ + N)/2, the probability that exactly K of the N
                      neurons fire in one bin (K = 0 … N).

Error bars: a delete-one-block jackknife. The rows are cut into ``n_blocks`` contiguous blocks
(whole trials grouped together when there are at least ``n_blocks`` trials); the statistic is
recomputed with each block left out, θ₍ᵦ₎, and σ² = (B − 1)/B · Σᵦ (θ₍ᵦ₎ − θ̄)². Blocks much
longer than the correlation time of the data make this account for temporal autocorrelation,
which plain binomial errors would not. Only per-block sums are kept, so a long raster is read
once, in float32 pieces that are exact for products of ±1.

Parameter conversion (SPEC §8): the "neural" 0/1 form
p(x) ∝ exp(Σᵢ bᵢxᵢ + Σ_{i<j} Wᵢⱼxᵢxⱼ) is the spin form p(s) ∝ exp(Σᵢ hᵢsᵢ + Σ_{i<j} Jᵢⱼsᵢsⱼ) with

    Jᵢⱼ = Wᵢⱼ/4,   hᵢ = bᵢ/2 + Σⱼ Wᵢⱼ/4,

and, with the same formulas (row sums of W), the kinetic model
P(xᵢ(t+1) = 1 | x(t)) = σ(bᵢ + Σⱼ Wᵢⱼxⱼ(t)) is the spin form with Hᵢ = hᵢ + Σⱼ Jᵢⱼsⱼ(t).
"""
import math

import numpy as np

from .blas import blas_threads
from .errors import InputError
from .temporal import as_trials, lag_ranges

__all__ = [
    "BlockSums", "binary_to_spins", "spins_to_binary", "neural_to_spin", "spin_to_neural",
    "firing_rates", "correlations_with_errors", "delayed_correlations_with_errors",
    "three_point_correlations", "spike_count_distribution", "independent_spike_count_distribution",
    "pk_kl_divergence", "pk_chi2", "rms", "top_active_neurons",
]

_ROWS = 1 << 16  # rows per float32 piece: sums of ±1 products stay exact
_TRIPLE_ROWS = 2048  # rows per (rows, n²) piece of the three-point sums (≤ 13 MB at n = 40)


# ------------------------------------------------------------------------------------ conversions
def spins_to_binary(S):
    """x = (s + 1)/2 as uint8 (1 = active)."""
    return ((np.asarray(S, dtype=np.int8) + 1) // 2).astype(np.uint8)


def binary_to_spins(X):
    """s = 2x − 1 as int8."""
    return (2 * np.asarray(X, dtype=np.int8) - 1).astype(np.int8)


def _params(a, M, what):
    a = np.asarray(a, dtype=float)
    M = np.asarray(M, dtype=float)
    if M.ndim != 2 or M.shape[0] != M.shape[1] or a.shape != (M.shape[0],):
        raise InputError(f"{what}: expected a vector (N,) and a matrix (N, N), got shapes {a.shape} and {M.shape}")
    return a, M


def neural_to_spin(b, W):
    """(h, J) of the spin form from (b, W) of the 0/1 form: J = W/4, hᵢ = bᵢ/2 + Σⱼ Wᵢⱼ/4.

    Valid for the equilibrium model (W symmetric, zero diagonal) and, row by row, for the kinetic
    model (any W; the sum runs over the row, diagonal included).
    """
    b, W = _params(b, W, "neural_to_spin")
    return b / 2.0 + W.sum(axis=1) / 4.0, W / 4.0


def spin_to_neural(h, J):
    """(b, W) of the 0/1 form from (h, J) of the spin form: W = 4J, bᵢ = 2hᵢ − 2 Σⱼ Jᵢⱼ."""
    h, J = _params(h, J, "spin_to_neural")
    return 2.0 * h - 2.0 * J.sum(axis=1), 4.0 * J


# ------------------------------------------------------------------------------------ blocks
def _block_edges(n_rows, trial_starts, n_blocks):
    """Row offsets of the jackknife blocks: whole trials when there are enough of them."""
    starts = np.asarray(trial_starts, dtype=np.int64)
    n_blocks = int(n_blocks)
    if n_blocks < 2:
        raise InputError(f"n_blocks must be at least 2, got {n_blocks}")
    if starts.size >= n_blocks:
        pick = np.linspace(0, starts.size, n_blocks + 1).round().astype(int)[:-1]
        edges = starts[np.unique(pick)]
    else:
        n_blocks = min(n_blocks, n_rows)
        edges = np.linspace(0, n_rows, n_blocks + 1).round().astype(np.int64)[:-1]
        edges = np.unique(edges)
    return np.append(edges, n_rows)


class BlockSums:
    """Per-block sums of a raster, from which every statistic and its jackknife error follow.

    For each block b: ``n[b]`` bins, ``s[b]`` = Σ sᵢ (N,), ``ss[b]`` = Σ sᵢsⱼ (N, N), ``counts[b]``
    the histogram of K = Σᵢ xᵢ (N + 1,) and, when ``delayed`` is set, ``n_pairs[b]`` and
    ``lag[b]`` = Σ sᵢ(t+τ)sⱼ(t) over the pairs (t, t + τ) whose earlier bin lies in the block and
    whose two bins lie in the same trial. Pass ``n_blocks=None`` to keep only the totals (no errors).
    """

    def __init__(self, S, trial_starts=None, n_blocks=20, tau=1, delayed=True):
        spins, starts = as_trials(S, trial_starts)
        self.spins, self.trial_starts = spins, starts
        T, N = spins.shape
        self.n_rows, self.n_units, self.tau = T, N, int(tau)
        edges = np.array([0, T]) if n_blocks is None or T < 2 else _block_edges(T, starts, n_blocks)
        self.edges = edges
        B = edges.size - 1
        self.n = np.diff(edges).astype(float)
        self.s = np.zeros((B, N))
        self.ss = np.zeros((B, N, N))
        self.counts = np.zeros((B, N + 1))
        self.delayed = bool(delayed)
        if delayed:
            self.n_pairs = np.zeros(B)
            self.lag = np.zeros((B, N, N))
            ranges = lag_ranges(starts, T, self.tau)
        with blas_threads(1):  # many moderate products: one BLAS thread avoids oversubscribed cores
            self._accumulate(spins, edges, ranges if delayed else None)

    def _accumulate(self, spins, edges, ranges):
        N = self.n_units
        delayed = ranges is not None
        for b in range(edges.size - 1):
            a, e = int(edges[b]), int(edges[b + 1])
            for c in range(a, e, _ROWS):
                x = spins[c:min(c + _ROWS, e)]
                xf = x.astype(np.float32)
                self.s[b] += xf.sum(axis=0, dtype=np.float64)
                self.ss[b] += xf.T @ xf
                K = (x.sum(axis=1, dtype=np.int64) + N) // 2
                self.counts[b] += np.bincount(K, minlength=N + 1)
            if delayed:
                for ra, rb in ranges:  # earlier bins t in [ra, rb) ∩ [a, e)
                    lo, hi = max(ra, a), min(rb, e)
                    for c in range(lo, hi, _ROWS):
                        d = min(c + _ROWS, hi)
                        early = spins[c:d].astype(np.float32)
                        late = spins[c + self.tau:d + self.tau].astype(np.float32)
                        self.lag[b] += late.T @ early
                        self.n_pairs[b] += d - c

    @property
    def n_blocks(self):
        return self.n.size

    # ----- estimators from (possibly leave-one-out) sums
    def _jackknife(self, estimator):
        """Estimate from all blocks and its delete-one-block jackknife error (None with one block)."""
        totals = self._totals(None)
        full = estimator(totals)
        if self.n_blocks < 2:
            return full, None
        loo = np.array([estimator(self._totals(b)) for b in range(self.n_blocks)])
        B = self.n_blocks
        err = np.sqrt((B - 1) / B * np.sum((loo - loo.mean(axis=0)) ** 2, axis=0))
        return full, err

    def _totals(self, leave_out):
        def tot(a):
            s = a.sum(axis=0)
            return s if leave_out is None else s - a[leave_out]
        out = {"n": tot(self.n), "s": tot(self.s), "ss": tot(self.ss), "counts": tot(self.counts)}
        if self.delayed:
            out["n_pairs"], out["lag"] = tot(self.n_pairs), tot(self.lag)
        return out

    def means(self):
        """(m, σ_m): mᵢ = ⟨sᵢ⟩."""
        return self._jackknife(lambda t: t["s"] / t["n"])

    def rates(self):
        """(r, σ_r): rᵢ = (1 + mᵢ)/2, the probability of firing in a bin."""
        return self._jackknife(lambda t: 0.5 * (1.0 + t["s"] / t["n"]))

    def correlations(self):
        """(C, σ_C): Cᵢⱼ = ⟨sᵢsⱼ⟩ − mᵢmⱼ."""
        def est(t):
            m = t["s"] / t["n"]
            return t["ss"] / t["n"] - np.outer(m, m)
        return self._jackknife(est)

    def delayed_correlations(self):
        """(D, σ_D): Dᵢⱼ(τ) = ⟨sᵢ(t+τ)sⱼ(t)⟩ − mᵢmⱼ (pairs inside trials; m over all bins)."""
        if not self.delayed:
            raise InputError("these block sums were computed without delayed pairs")
        if self._totals(None)["n_pairs"] == 0:
            raise InputError(f"no trial is longer than tau={self.tau} bins, so there are no delayed pairs")

        def est(t):
            m = t["s"] / t["n"]
            return t["lag"] / max(t["n_pairs"], 1) - np.outer(m, m)
        return self._jackknife(est)

    def spike_count_distribution(self):
        """(P, σ_P): P(K) for K = 0 … N."""
        return self._jackknife(lambda t: t["counts"] / t["n"])


# ------------------------------------------------------------------------------------ public helpers
def firing_rates(S, trial_starts=None, bin_width=None, n_blocks=20):
    """Firing rates rᵢ = ⟨xᵢ⟩ = (1 + ⟨sᵢ⟩)/2 and their block-jackknife errors.

    Probabilities per bin, or rates in Hz when ``bin_width`` (seconds) is given: rᵢ / Δt.
    """
    r, err = BlockSums(S, trial_starts, n_blocks, delayed=False).rates()
    if bin_width is not None:
        if not bin_width > 0:
            raise InputError(f"bin_width must be positive (seconds), got {bin_width!r}")
        r = r / bin_width
        err = None if err is None else err / bin_width
    return r, err


def correlations_with_errors(S, trial_starts=None, n_blocks=20):
    """Cᵢⱼ = ⟨sᵢsⱼ⟩ − ⟨sᵢ⟩⟨sⱼ⟩ ((N, N)) and its block-jackknife error."""
    return BlockSums(S, trial_starts, n_blocks, delayed=False).correlations()


def delayed_correlations_with_errors(S, tau=1, trial_starts=None, n_blocks=20):
    """Dᵢⱼ(τ) = ⟨sᵢ(t+τ)sⱼ(t)⟩ − mᵢmⱼ ((N, N), row i the later bin) and its jackknife error."""
    return BlockSums(S, trial_starts, n_blocks, tau=tau).delayed_correlations()


def top_active_neurons(S, k):
    """Indices (sorted) of the ``k`` neurons with the highest firing rates (ties: lower index)."""
    spins = np.asarray(S)
    counts = np.count_nonzero(spins == 1, axis=0)
    order = np.argsort(-counts, kind="stable")
    return np.sort(order[:min(int(k), spins.shape[1])])


def three_point_correlations(S, neurons=None, max_neurons=40, trial_starts=None, n_blocks=None):
    """Connected three-point correlations Tᵢⱼₖ = ⟨δsᵢδsⱼδsₖ⟩, δsᵢ = sᵢ − ⟨sᵢ⟩, for i < j < k.

    The cost grows as T·n³, so they are computed among ``neurons`` (indices), by default all
    neurons when N ≤ ``max_neurons`` and otherwise the ``max_neurons`` most active ones (where
    the estimates are least noisy). Returns ``(triplets, T, err)``: an (K, 3) array of neuron
    indices, the K values, and their block-jackknife errors (``n_blocks`` blocks; None when
    ``n_blocks`` is None). Computed as 8× the same cumulant of x = (s + 1)/2,
    ⟨xᵢxⱼxₖ⟩ − rᵢ⟨xⱼxₖ⟩ − rⱼ⟨xᵢxₖ⟩ − rₖ⟨xᵢxⱼ⟩ + 2rᵢrⱼrₖ, whose third moment needs only the bins
    in which at least three of the neurons fire.
    """
    spins, starts = as_trials(S, trial_starts)
    T, N = spins.shape
    if neurons is None:
        neurons = np.arange(N) if N <= max_neurons else top_active_neurons(spins, max_neurons)
    neurons = np.asarray(neurons, dtype=np.int64)
    if neurons.ndim != 1 or neurons.size < 3 or neurons.min() < 0 or neurons.max() >= N or np.unique(neurons).size != neurons.size:
        raise InputError(f"neurons must be at least 3 distinct indices in [0, {N}), got {neurons[:8].tolist()}")
    n = neurons.size
    edges = np.array([0, T]) if n_blocks is None else _block_edges(T, starts, n_blocks)
    B = edges.size - 1
    # raw moments of x = (s + 1)/2; Σ xᵢxⱼxₖ needs only the bins with ≥ 3 active neurons, which
    # makes sparse rasters cheap. The cumulant of s is 8× that of x (δs = 2δx).
    s1 = np.zeros((B, n))
    s2 = np.zeros((B, n, n))
    s3 = np.zeros((B, n, n, n))
    with blas_threads(1):
        _triple_sums(spins, neurons, edges, s1, s2, s3)
    iu = np.array([(i, j, k) for i in range(n) for j in range(i + 1, n) for k in range(j + 1, n)], dtype=np.int64)
    ii, jj, kk = iu.T
    counts = np.diff(edges).astype(float)

    def est(n_rows, a1, a2, a3):
        r = a1 / n_rows
        c2 = a2 / n_rows
        c3 = a3[ii, jj, kk] / n_rows
        return 8.0 * (c3 - r[ii] * c2[jj, kk] - r[jj] * c2[ii, kk] - r[kk] * c2[ii, jj] + 2 * r[ii] * r[jj] * r[kk])

    tot = (counts.sum(), s1.sum(0), s2.sum(0), s3.sum(0))
    value = est(*tot)
    err = None
    if B >= 2:
        loo = np.array([est(tot[0] - counts[b], tot[1] - s1[b], tot[2] - s2[b], tot[3] - s3[b]) for b in range(B)])
        err = np.sqrt((B - 1) / B * np.sum((loo - loo.mean(axis=0)) ** 2, axis=0))
    return neurons[iu], value, err


def _triple_sums(spins, neurons, edges, s1, s2, s3):
    """Per block: Σ xᵢ, Σ xᵢxⱼ and Σ xᵢxⱼxₖ of x = (s + 1)/2 over the chosen neurons."""
    n = neurons.size
    for b in range(edges.size - 1):
        for c in range(int(edges[b]), int(edges[b + 1]), _ROWS):
            x = (spins[c:min(c + _ROWS, int(edges[b + 1]))][:, neurons] == 1).astype(np.float32)
            s1[b] += x.sum(axis=0, dtype=np.float64)
            k = x.sum(axis=1)
            y2 = x[k >= 2]
            s2[b] += y2.T @ y2
            y3 = y2[k[k >= 2] >= 3]
            for a in range(0, y3.shape[0], _TRIPLE_ROWS):  # one product per piece: Σₜ (xᵢxⱼ)(t) xₖ(t)
                y = y3[a:a + _TRIPLE_ROWS]
                s3[b] += ((y[:, :, None] * y[:, None, :]).reshape(y.shape[0], n * n).T @ y).reshape(n, n, n)


def spike_count_distribution(S, trial_starts=None, n_blocks=20):
    """P(K), K = 0 … N the number of neurons active in one bin, and its jackknife error."""
    return BlockSums(S, trial_starts, n_blocks, delayed=False).spike_count_distribution()


def independent_spike_count_distribution(rates):
    """Exact P(K) of independent neurons firing with probabilities ``rates`` (Poisson-binomial).

    P(K) = Σ over subsets A of size K of Πᵢ∈A rᵢ Πᵢ∉A (1 − rᵢ), computed by convolving the
    two-point distributions (1 − rᵢ, rᵢ) one neuron at a time.
    """
    r = np.asarray(rates, dtype=float).ravel()
    if np.any((r < 0) | (r > 1)) or not np.all(np.isfinite(r)):
        raise InputError("rates must be probabilities in [0, 1]")
    p = np.ones(1)
    for q in r:
        p = np.append(p * (1 - q), 0.0) + np.append(0.0, p * q)
    return p


# ------------------------------------------------------------------------------------ distances
def pk_kl_divergence(p_data, p_model, n_model=None, floor=1e-12):
    """D_KL(P_data ‖ P_model) = Σ_K P_data(K) log₂[P_data(K) / P_model(K)], in bits.

    A sampled model distribution may have P_model(K) = 0 where the data do not; with the number
    of model samples ``n_model`` the model's counts get a pseudo-count of ½ per value of K
    (P = (count + ½)/(n + ½(N + 1))), otherwise P_model is floored at ``floor``.
    """
    p = np.asarray(p_data, dtype=float)
    q = np.asarray(p_model, dtype=float)
    if p.shape != q.shape:
        raise InputError(f"P(K) of data and model differ in length: {p.shape} vs {q.shape}")
    if n_model is not None:
        q = (q * n_model + 0.5) / (n_model + 0.5 * q.size)
    q = np.maximum(q, floor)
    nz = p > 0
    return float(np.sum(p[nz] * np.log2(p[nz] / q[nz])))


def pk_chi2(p_data, err_data, p_model):
    """χ² per degree of freedom: mean over K with σ(K) > 0 of (P_model(K) − P_data(K))² / σ(K)²."""
    p, e, q = (np.asarray(a, dtype=float) for a in (p_data, err_data, p_model))
    ok = e > 0
    if not ok.any():
        return float("nan")
    return float(np.mean(((q[ok] - p[ok]) / e[ok]) ** 2))


def rms(a, b=None, mask=None):
    """Root-mean-square of a (or of a − b), over the entries selected by ``mask``."""
    d = np.asarray(a, dtype=float) if b is None else np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if mask is not None:
        d = d[mask]
    return float(math.sqrt(np.mean(d * d))) if d.size else float("nan")
