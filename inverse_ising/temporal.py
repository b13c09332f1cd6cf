"""Temporal statistics of spike rasters: means, equal-time and delayed correlations, autocorrelations.

A raster is an (T, N) array of spins sᵢ(t) ∈ {−1, +1} (0/1 data are mapped by s = 2x − 1), one
row per time bin. It may hold several independent recordings (trials): ``trial_starts`` lists the
row offsets where each begins (as in :class:`inverse_ising.data.Dataset`), or the raster is given
as a list of (Tₖ, N) arrays or as one (n_trials, T, N) array. A pair of bins (t, t + τ) is used
only when both lie in the same trial, so no correlation is ever formed across a boundary.

Definitions (all averages are plain means over the bins or bin pairs that exist):

* means            mᵢ = ⟨sᵢ(t)⟩ over all T bins;
* equal-time       Cᵢⱼ = ⟨sᵢ(t)sⱼ(t)⟩ − mᵢmⱼ;
* delayed          Dᵢⱼ(τ) = ⟨sᵢ(t+τ)sⱼ(t)⟩_τ − mᵢmⱼ, the average ⟨·⟩_τ running over the
                   n_τ = Σₖ max(Tₖ − τ, 0) pairs inside the trials (row i is the *later* spin, so
                   for the kinetic Ising model D ≈ A J C: Jᵢⱼ, the influence of j on i, sits in row i);
* autocorrelation  Aᵢ(τ) = ⟨sᵢ(t+τ)sᵢ(t)⟩_τ − mᵢ² (Aᵢ(0) = 1 − mᵢ², the variance), optionally
                   normalised to ρᵢ(τ) = Aᵢ(τ)/Aᵢ(0).

The stationary means m (over all bins) are subtracted in C, D and A, as in Roudi & Hertz (2011).
Sums are formed in float32 blocks of at most 2¹⁶ rows, which is exact for products of ±1, and
accumulated in float64, so a 45 MB int8 raster never turns into a float64 copy.
"""
import numpy as np

from .errors import InputError
from .validation import as_spins

_BLOCK = 1 << 16  # rows per float32 block: sums of ±1 products stay exact (< 2²⁴)


def as_trials(S, trial_starts=None, name="spins"):
    """Normalise a raster to ``(spins, trial_starts)``: an (T, N) int8 ±1 array and row offsets.

    ``S`` may be an (T, N) array (0/1 or ±1) with optional ``trial_starts``; a list or tuple of
    (Tₖ, N) arrays (one per trial); or an (n_trials, T, N) array. ``trial_starts`` must start at 0
    (a missing leading 0 is added), increase strictly and stay below T. Raises :class:`InputError`
    for anything else (non-binary values, NaN, ragged trials, a 1-D array).
    """
    if isinstance(S, (list, tuple)):
        if trial_starts is not None:
            raise InputError("give either a list of trials or trial_starts, not both")
        if len(S) == 0:
            raise InputError(f"{name} is an empty list of trials")
        trials = [np.asarray(x) for x in S]
        for k, x in enumerate(trials):
            if x.ndim != 2:
                raise InputError(f"{name}: trial {k} must be a 2-D (time bins, neurons) array, got shape {x.shape}")
            if x.shape[1] != trials[0].shape[1]:
                raise InputError(
                    f"{name}: trial {k} has {x.shape[1]} neurons but trial 0 has {trials[0].shape[1]}"
                )
        lengths = np.array([x.shape[0] for x in trials], dtype=np.int64)
        if np.any(lengths == 0):
            raise InputError(f"{name}: trial {int(np.argmin(lengths))} is empty")
        spins = as_spins(np.concatenate(trials, axis=0), name=name)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        return spins, starts
    arr = np.asarray(S)
    if arr.ndim == 3:
        if trial_starts is not None:
            raise InputError("an (n_trials, T, N) array already defines the trials; do not pass trial_starts")
        n_trials, T, N = arr.shape
        spins = as_spins(arr.reshape(n_trials * T, N), name=name)
        return spins, np.arange(n_trials, dtype=np.int64) * T
    if arr.ndim != 2:
        raise InputError(
            f"{name} must be an (T, N) raster (time bins × neurons), a list of trials or an "
            f"(n_trials, T, N) array; got shape {arr.shape}"
        )
    spins = as_spins(arr, name=name)
    T = spins.shape[0]
    if trial_starts is None:
        return spins, np.zeros(1, dtype=np.int64)
    starts = np.asarray(trial_starts)
    if starts.ndim != 1 or starts.size == 0 or starts.dtype.kind not in "iu":
        raise InputError(f"trial_starts must be a non-empty 1-D array of integer row offsets, got {trial_starts!r}")
    starts = starts.astype(np.int64)
    if starts[0] != 0:
        starts = np.concatenate([[0], starts])
    if np.any(np.diff(starts) <= 0) or starts[0] < 0 or starts[-1] >= T:
        raise InputError(
            f"trial_starts must increase strictly from 0 and stay below the {T} rows of {name}; "
            f"got {np.asarray(trial_starts)[:8].tolist()}{' ...' if np.size(trial_starts) > 8 else ''}"
        )
    return spins, starts


def lag_ranges(trial_starts, n_rows, tau=1):
    """Row ranges [a, b) of the *earlier* bin t of every pair (t, t + τ) inside one trial.

    With trials [sₖ, eₖ) the ranges are [sₖ, eₖ − τ) for the trials longer than τ.
    """
    starts = np.asarray(trial_starts, dtype=np.int64)
    ends = np.append(starts[1:], n_rows)
    return [(int(a), int(b - tau)) for a, b in zip(starts, ends) if b - a > tau]


def n_pairs(trial_starts, n_rows, tau=1):
    """n_τ = Σₖ max(Tₖ − τ, 0), the number of (t, t + τ) pairs inside trials."""
    return sum(b - a for a, b in lag_ranges(trial_starts, n_rows, tau))


def pair_blocks(ranges, size=_BLOCK):
    """Split the rows of ``ranges`` ([a, b) pairs) into blocks of about ``size`` rows.

    Long ranges become slices (views, no copy); runs of short ranges (many short trials) are
    gathered into index arrays of up to ~2·size rows, so that the per-block overhead does not
    grow with the number of trials. Index a raster with ``S[block]`` and the partner rows τ bins
    later with ``S[shifted(block, tau)]``.
    """
    blocks, pending, count = [], [], 0
    for a, b in ranges:
        while b - a >= size:
            blocks.append(slice(a, a + size))
            a += size
        if b > a:
            pending.append(np.arange(a, b))
            count += b - a
            if count >= size:
                blocks.append(np.concatenate(pending))
                pending, count = [], 0
    if pending:
        blocks.append(np.concatenate(pending))
    return blocks


def shifted(block, tau):
    """The rows ``tau`` bins after those of a block from :func:`pair_blocks`."""
    if isinstance(block, slice):
        return slice(block.start + tau, block.stop + tau)
    return block + tau


def block_length(block):
    return block.stop - block.start if isinstance(block, slice) else block.size


def _check_tau(tau, name="tau"):
    if isinstance(tau, bool) or not isinstance(tau, (int, np.integer)) or tau < 0:
        raise InputError(f"{name} must be a non-negative integer number of bins, got {tau!r}")
    return int(tau)


def means(S, trial_starts=None):
    """mᵢ = ⟨sᵢ(t)⟩ over all bins (trials do not matter for the mean). Returns (N,) float64."""
    spins, _ = as_trials(S, trial_starts)
    return spins.sum(axis=0, dtype=np.int64) / spins.shape[0]


def _lagged_products(spins, ranges, tau):
    """Σ over pairs of sᵢ(t+τ)sⱼ(t) (N, N), plus Σ sᵢ(t+τ) and Σ sⱼ(t), float64."""
    N = spins.shape[1]
    prod = np.zeros((N, N))
    later = np.zeros(N)
    earlier = np.zeros(N)
    for blk in pair_blocks(ranges):
        x = spins[blk].astype(np.float32)
        y = x if tau == 0 else spins[shifted(blk, tau)].astype(np.float32)
        prod += y.T @ x
        later += y.sum(axis=0, dtype=np.float64)
        earlier += x.sum(axis=0, dtype=np.float64)
    return prod, later, earlier


def equal_time_correlations(S, trial_starts=None, connected=True):
    """Cᵢⱼ = ⟨sᵢ(t)sⱼ(t)⟩ − mᵢmⱼ over all bins ((N, N) float64, symmetric).

    With ``connected=False`` the raw second moment ⟨sᵢsⱼ⟩ is returned.
    """
    spins, _ = as_trials(S, trial_starts)
    T = spins.shape[0]
    prod, total, _ = _lagged_products(spins, [(0, T)], 0)
    second = prod / T
    if not connected:
        return second
    m = total / T
    return second - np.outer(m, m)


def delayed_correlations(S, tau=1, trial_starts=None, connected=True):
    """Dᵢⱼ(τ) = ⟨sᵢ(t+τ)sⱼ(t)⟩_τ − mᵢmⱼ ((N, N) float64; row i is the later spin).

    ⟨·⟩_τ averages over the pairs (t, t + τ) that lie inside one trial; m are the means over all
    bins. ``connected=False`` returns ⟨sᵢ(t+τ)sⱼ(t)⟩_τ. τ = 0 gives the equal-time C.
    Raises :class:`InputError` when no trial is longer than τ.
    """
    tau = _check_tau(tau)
    spins, starts = as_trials(S, trial_starts)
    T = spins.shape[0]
    ranges = lag_ranges(starts, T, tau)
    n = sum(b - a for a, b in ranges)
    if n == 0:
        raise InputError(f"no trial is longer than tau={tau} bins, so there is no pair (t, t+{tau}) to correlate")
    prod, _, _ = _lagged_products(spins, ranges, tau)
    second = prod / n
    if not connected:
        return second
    m = spins.sum(axis=0, dtype=np.int64) / T
    return second - np.outer(m, m)


def autocorrelations(S, max_lag=10, trial_starts=None, normalise=False):
    """Aᵢ(τ) = ⟨sᵢ(t+τ)sᵢ(t)⟩_τ − mᵢ² for τ = 0 … max_lag, shape (max_lag + 1, N).

    The pairs (t, t + τ) stay inside trials. ``normalise=True`` divides by Aᵢ(0) = 1 − mᵢ²
    (ρᵢ(0) = 1; a neuron that never changes gets ρ = NaN). Lags with no pair inside any trial are NaN.
    Computed exactly by counting agreements: Σ sᵢ(t+τ)sᵢ(t) = 2·#{sᵢ(t+τ) = sᵢ(t)} − n_τ.
    """
    max_lag = _check_tau(max_lag, "max_lag")
    spins, starts = as_trials(S, trial_starts)
    T, N = spins.shape
    m = spins.sum(axis=0, dtype=np.int64) / T
    out = np.full((max_lag + 1, N), np.nan)
    for tau in range(max_lag + 1):
        ranges = lag_ranges(starts, T, tau)
        n = sum(b - a for a, b in ranges)
        if n == 0:
            continue
        agree = np.zeros(N, dtype=np.int64)
        for blk in pair_blocks(ranges):
            agree += np.count_nonzero(spins[blk] == spins[shifted(blk, tau)], axis=0)
        out[tau] = (2 * agree - n) / n - m * m
    if normalise:
        var = 1.0 - m * m
        with np.errstate(invalid="ignore", divide="ignore"):
            out = out / np.where(var > 0, var, np.nan)
    return out
