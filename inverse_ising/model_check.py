"""Judge a fitted model by sampling it from the data's own states and comparing statistics.

A learner can meet its own stopping rule (a pseudo-likelihood optimum, a closed-form
mean-field inversion) and still give a model whose typical states look nothing like the data:
near a phase boundary an overestimated coupling turns the sparse population into one that
runs away to a high-activity state. :func:`check_by_sampling` draws states of the model and
compares them with the data.

Sampling
--------
* Equilibrium models (pairwise, lattice): ``n_chains`` Metropolis chains
  (:class:`inverse_ising.sampling.Chains`) start from data rows drawn at random and run
  ``n_sweeps`` sweeps; the states after sweeps n_sweeps/2 + k·thin, k = 1 … ``n_records``
  (thin = ⌊(n_sweeps/2)/n_records⌋, at least 1) are kept.
* Kinetic models: ``n_chains`` independent trials of the parallel Glauber dynamics
  (:func:`inverse_ising.sampling.simulate`), each started from a data row, ``n_sweeps`` steps,
  the same steps kept. Only equal-time statistics are compared.

A model that is exact leaves the distribution of the data's states unchanged, so chains started
from data rows need no burn-in to be at equilibrium; a model that is wrong drifts away from them.

Statistics (K = Σᵢ (sᵢ + 1)/2, the number of active units in one state; N units)
---------------------------------------------------------------------------------------------
* P(K), and the Kullback–Leibler divergence D = Σ_K P_data(K) log₂[P_data(K)/P_model(K)]
  (:func:`inverse_ising.neural_stats.pk_kl_divergence`, the model's counts with a pseudo-count
  of ½ per K), in bits.
* the mean activity ā = K̄/N of the model states and of the data.
* z-scores of the means mᵢ = ⟨sᵢ⟩ and the connected correlations Cᵢⱼ = ⟨sᵢsⱼ⟩ − mᵢmⱼ
  (i < j) among at most ``max_units`` units (the most active ones),
  zₖ = (modelₖ − dataₖ)/√(σ²_data,k + σ²_model,k). σ_model is the jackknife error over
  ``n_blocks`` groups of whole chains, i.e. from the spread between independent chains.
  σ_data is the data's block-jackknife error (``n_blocks`` blocks of consecutive rows, whole
  trials where there are enough; :class:`inverse_ising.neural_stats.BlockSums`), but at least
  the error of M independent draws of the model, √(vₖ/M) with the model's per-state variances
  v(mᵢ) = 1 − mᵢ² and v(Cᵢⱼ) = Var(δsᵢδsⱼ) = (1 − mᵢ²)(1 − mⱼ²) + 4mᵢmⱼCᵢⱼ − Cᵢⱼ²: a rare
  event seen a few times in the data (or never) has an error bar from its count alone that
  is far too small.

Verdict
-------
* ``runaway``: most model states lie outside the data's range of activity,

      F = fraction of model states with K < q₀.₀₀₅ or K > q₀.₉₉₅  >  ½,

  q_p the p-quantile of the data's K (an exact model puts about 1% of its states there; a
  quantile range, unlike the mean and standard deviation, is not stretched by a few
  high-activity rows of the data).
* P(K) fails when D > D_allowed = D_ind + 4·D_noise: D_ind is the divergence of the
  independent model (rates of the data, :func:`~inverse_ising.neural_stats.independent_spike_count_distribution`,
  with the same pseudo-count as the model states),
  D_noise = (B − 1)/(2 ln 2)·(1/M_eff + 1/n_eff) the expected divergence of two finite samples of
  one distribution (2n·D in nats is χ² with B − 1 degrees of freedom), B the number of values of K
  seen in the data or the model states, M_eff and n_eff the effective sizes Var(S)/σ²(S̄) of the
  data and of the model states, S = Σᵢ sᵢ over the scored units (Var(S) = Σᵢⱼ Cᵢⱼ, σ(S̄) by the
  same jackknife as above). So a model fails when its
  P(K) is further from the data than that of independent units, beyond the check's own noise.
* the moments fail (only when ``judge_moments``) when max|z| > z_allowed, the two-sided
  Bonferroni bound of Student's t with n_blocks − 1 degrees of freedom:
  z_allowed = t⁻¹(1 − α/(2n)), α = 0.01, n the number of z-scores.
* ``passed`` = not runaway, P(K) within D_allowed, and (when judged) max|z| ≤ z_allowed.
  Each bound is set so that an exact model fails with probability of order α.

With fewer than ``MIN_ROWS`` data rows the statistics say too little: the result has
``passed = None`` ("not checked").
"""
import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import neural_stats as ns
from .backend import get_backend, resolve_seed, seed_sequence
from .errors import InputError
from .models import KineticIsing
from .temporal import as_trials
from .validation import as_positive_int

__all__ = ["CheckResult", "ModelCheckWarning", "check_by_sampling", "check_fit"]

MIN_ROWS = 20           # fewer data rows: not checked
RUNAWAY_QUANTILE = 0.005  # the data's range of K: its quantiles RUNAWAY_QUANTILE and 1 − RUNAWAY_QUANTILE
RUNAWAY_FRACTION = 0.5  # runaway: more than this fraction of model states outside that range
NOISE_FACTOR = 4.0      # D_allowed = D_ind + this multiple of the expected noise divergence
ALPHA = 0.01            # family-wise false-alarm level of the moment test
SPINS_PER_CHECK = 50_000  # default chains: about this many spins in all (at least 100 chains, at most 1000)
_CHECK_KEY = 0x636865636B  # spawn key of the check's random stream ("check"), apart from the learners'


class ModelCheckWarning(UserWarning):
    """A fitted model failed :func:`check_by_sampling`."""


@dataclass
class CheckResult:
    """The outcome of :func:`check_by_sampling` (see the module text for every rule).

    ``passed`` is True, False, or None when the data have too few rows to check; ``failures``
    names what failed ("runaway", "P(K)", "moments"). ``p_k_data``, ``p_k_model``: P(K) for
    K = 0 … N; ``mean_activity_*`` = K̄/N; ``max_z`` over mᵢ and Cᵢⱼ (NaN when none could be
    scored); ``seed`` repeats the check.
    """

    passed: object
    runaway: bool = False
    failures: tuple = ()
    pk_kl: float = float("nan")
    pk_kl_allowed: float = float("nan")
    pk_kl_independent: float = float("nan")
    pk_kl_noise: float = float("nan")
    mean_activity_model: float = float("nan")
    mean_activity_data: float = float("nan")
    mean_k_model: float = float("nan")
    mean_k_data: float = float("nan")
    fraction_outside: float = float("nan")
    max_z: float = float("nan")
    max_z_allowed: float = float("nan")
    moments_judged: bool = True
    n_units_scored: int = 0
    n_chains: int = 0
    n_sweeps: int = 0
    n_model_states: int = 0
    n_data_rows: int = 0
    seed: object = None
    p_k_data: np.ndarray = field(default=None, repr=False)
    p_k_model: np.ndarray = field(default=None, repr=False)

    def describe(self):
        """One line: the verdict, then the numbers it rests on."""
        if self.passed is None:
            return f"not checked by sampling: only {self.n_data_rows} data rows (at least {MIN_ROWS} needed)"
        if self.runaway:
            head = "runs away when sampled"
        elif self.failures:
            missed = {"P(K)": "P(K)", "moments": "the data's means and correlations"}
            head = f"misses {' and '.join(missed[f] for f in self.failures)} when sampled"
        else:
            head = "passes its sampled check"
        activity = f"mean activity {self.mean_activity_model:.3g} vs {self.mean_activity_data:.3g} in the data"
        if self.runaway:
            activity += f" ({100 * self.fraction_outside:.0f}% of its states outside the data's 99% range of K)"
        kl = (f"P(K) KL {self.pk_kl:.3g} bits (independent units {self.pk_kl_independent:.2g}, "
              f"allowed {self.pk_kl_allowed:.2g})")
        parts = [activity, kl] if self.runaway else [kl, activity]
        if np.isfinite(self.max_z):
            parts.append(f"max |z| {self.max_z:.3g} of ⟨sᵢ⟩, Cᵢⱼ"
                         + (f" (allowed {self.max_z_allowed:.2g})" if self.moments_judged else " (not judged)"))
        return f"{head}: {', '.join(parts)}"

    def summary(self):
        """The JSON-safe dict stored as a fit's ``meta["check"]`` (P(K) as lists)."""
        out = {"passed": self.passed, "runaway": self.runaway, "failures": list(self.failures),
               "description": self.describe()}
        for name in ("pk_kl", "pk_kl_allowed", "pk_kl_independent", "pk_kl_noise", "mean_activity_model",
                     "mean_activity_data", "mean_k_model", "mean_k_data", "fraction_outside",
                     "max_z", "max_z_allowed"):
            value = float(getattr(self, name))
            out[name] = value if math.isfinite(value) else None
        for name in ("moments_judged", "n_units_scored", "n_chains", "n_sweeps", "n_model_states", "n_data_rows"):
            out[name] = getattr(self, name)
        out["seed"] = self.seed
        for name in ("p_k_data", "p_k_model"):
            value = getattr(self, name)
            out[name] = None if value is None else [float(v) for v in value]
        return out


# ---------------------------------------------------------------------------------------------
def _as_data(model, X, trial_starts):
    """(spins (M, N), trial_starts) of the data, checked against the model."""
    if hasattr(X, "spins"):
        trial_starts = getattr(X, "trial_starts", None) if trial_starts is None else trial_starts
        X = X.spins
    if not isinstance(X, (list, tuple)):
        X = np.asarray(X)
        if model.kind == "lattice":  # (D, L, L), (D, L²) or one (L, L) configuration
            X = X.reshape(-1, model.n_spins) if X.size % model.n_spins == 0 else X
    spins, starts = as_trials(X, trial_starts, name="data")
    if spins.shape[1] != model.n_spins:
        raise InputError(f"the data have {spins.shape[1]} units but the model has {model.n_spins}")
    return spins, starts


def _draw(model, spins, n_chains, n_sweeps, n_records, seed, backend):
    """Model states, (n_chains·n_records, N) in chain-major order, from chains started at data rows."""
    N = model.n_spins
    half = n_sweeps // 2
    thin = max(1, (n_sweeps - half) // n_records)
    keep = half + thin * np.arange(1, n_records + 1)  # sweeps after which the states are kept
    chain_seed, start_seed = seed.spawn(2)
    if isinstance(model, KineticIsing):
        from .sampling import simulate

        rows = spins[np.random.default_rng(start_seed).integers(0, spins.shape[0], size=n_chains)]
        path = simulate(model, int(keep[-1]), seed=chain_seed, n_trials=n_chains, s0=rows, backend=backend)
        states = path[:, keep - 1]
    else:
        from .sampling import Chains

        chains = Chains(model, n_chains, backend=backend, seed=chain_seed, init=spins)
        states = np.empty((n_chains, n_records, N), dtype=np.int8)
        done = 0
        for r, k in enumerate(keep):
            chains.sweep(int(k - done))
            done = int(k)
            states[:, r] = chains.spins.reshape(n_chains, N)
    return np.ascontiguousarray(states.reshape(n_chains * n_records, N))


class _Sample:
    """K, P(K), the spread of K̄ and the moments (with jackknife errors) of a set of states."""

    def __init__(self, spins, trial_starts, units, n_blocks):
        M, N = spins.shape
        self.K = (spins.sum(axis=1, dtype=np.int64) + N) // 2
        self.P = np.bincount(self.K, minlength=N + 1) / M
        self.mean_k = float(self.K.mean())
        sums = ns.BlockSums(spins[:, units], trial_starts, n_blocks, delayed=False)
        self.m, self.m_err = sums.means()
        self.C, self.C_err = sums.correlations()
        self.rates = (1.0 + spins.mean(axis=0, dtype=np.float64)) / 2.0
        self.n_blocks = sums.n_blocks
        # effective size Var(S)/σ²(S̄) of the row sums S = Σᵢ sᵢ (over ``units``): Var(S) = Σᵢⱼ Cᵢⱼ,
        # σ(S̄) the delete-one-block jackknife error over the same blocks
        _, err = sums._jackknife(lambda t: t["s"].sum() / t["n"])
        var_sum = float(self.C.sum())
        self.n_eff = float(M if not err or var_sum <= 0 else min(M, max(1.0, var_sum / err ** 2)))


def _max_z(data, model, n_data_rows):
    """max |z| over mᵢ and Cᵢⱼ (i < j), and the number of z-scores (module text)."""
    iu = np.triu_indices(model.m.size, 1)
    m, C = model.m, model.C
    # the variance of one state's sᵢ and δsᵢδsⱼ under the model: the error of M independent draws
    var_m = 1.0 - m * m
    var_C = (np.outer(var_m, var_m) + 4.0 * np.outer(m, m) * C - C * C)[iu]
    z = []
    for d, e_data, e_model, var in ((m - data.m, data.m_err, model.m_err, var_m),
                                    ((C - data.C)[iu], data.C_err[iu], model.C_err[iu], var_C)):
        sigma = np.sqrt(np.maximum(e_data ** 2, np.maximum(var, 0.0) / n_data_rows) + e_model ** 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            z.append(np.where(sigma > 0, np.abs(d) / sigma, np.where(d == 0, 0.0, np.inf)))
    z = np.concatenate(z)
    return (float(z.max()) if z.size else float("nan")), int(z.size)


def check_by_sampling(model, X, *, n_chains=None, n_sweeps=100, n_records=10, seed=None, backend="auto",
                      trial_starts=None, judge_moments=True, max_units=200, n_blocks=20):
    """Sample ``model`` from the states of the data ``X`` and judge it; returns a :class:`CheckResult`.

    Parameters
    ----------
    model : PairwiseIsing, LatticeIsing or KineticIsing.
    X : the data: (M, N) ±1 or 0/1 rows, a :class:`~inverse_ising.data.Dataset`, a list of
        trials, or lattice configurations (D, L, L).
    n_chains : chains (kinetic: trials); default about 50 000 spins in all, between 100 and
        1000 (1000 at N = 50).
    n_sweeps, n_records : sweeps (kinetic: steps) per chain, and the states kept from each in
        the second half.
    seed : seed of the check (None: fresh entropy, recorded in the result).
    backend : sampling backend; an MPI backend samples on each process alone (all processes get
        the same result).
    trial_starts : row offsets of the data's trials (used for the data's jackknife blocks).
    judge_moments : whether max|z| of mᵢ, Cᵢⱼ counts towards ``passed`` (learners that already
        judged the moments, and kinetic models, judge only the runaway and P(K)).
    max_units, n_blocks : the moments are scored among at most ``max_units`` units (the most
        active), with ``n_blocks`` jackknife blocks (data) and chain groups (model).

    The rules (runaway, P(K), moments) are in the module text. Cost: n_chains·n_sweeps·N spin
    updates, about 5·10⁶ at N = 50 (a fraction of a second with the compiled kernels).
    """
    if getattr(model, "kind", None) not in ("pairwise", "lattice", "kinetic"):
        raise InputError(f"check_by_sampling needs a PairwiseIsing, LatticeIsing or KineticIsing model, got {model!r}")
    spins, starts = _as_data(model, X, trial_starts)
    M, N = spins.shape
    n_sweeps = as_positive_int(n_sweeps, "n_sweeps", minimum=2)
    n_records = as_positive_int(n_records, "n_records")
    n_blocks = as_positive_int(n_blocks, "n_blocks", minimum=2)
    if n_chains is None:
        n_chains = int(min(1000, max(100, SPINS_PER_CHECK // N)))
    n_chains = as_positive_int(n_chains, "n_chains", minimum=n_blocks)
    n_records = min(n_records, n_sweeps - n_sweeps // 2)
    run_backend = get_backend(backend)
    seed = int(seed_sequence(resolve_seed(seed, run_backend)).entropy)
    if run_backend.size > 1:
        run_backend = get_backend("auto")
    if M < MIN_ROWS:
        return CheckResult(passed=None, moments_judged=bool(judge_moments), n_chains=n_chains, n_sweeps=n_sweeps,
                           n_data_rows=M, seed=seed)
    stream = np.random.SeedSequence(seed, spawn_key=(_CHECK_KEY,))
    states = _draw(model, spins, n_chains, n_sweeps, n_records, stream, run_backend)

    units = np.arange(N) if N <= max_units else ns.top_active_neurons(spins, max_units)
    data = _Sample(spins, starts, units, n_blocks)
    sampled = _Sample(states, np.arange(n_chains, dtype=np.int64) * n_records, units, n_blocks)

    # runaway
    lo, hi = np.quantile(data.K, [RUNAWAY_QUANTILE, 1.0 - RUNAWAY_QUANTILE])
    fraction_outside = float(np.mean((sampled.K < lo) | (sampled.K > hi)))
    runaway = fraction_outside > RUNAWAY_FRACTION
    # P(K)
    kl = ns.pk_kl_divergence(data.P, sampled.P, n_model=states.shape[0])
    kl_ind = ns.pk_kl_divergence(data.P, ns.independent_spike_count_distribution(data.rates), n_model=states.shape[0])
    support = int(np.count_nonzero((data.P > 0) | (sampled.P > 0)))
    kl_noise = (support - 1) / (2 * math.log(2)) * (1 / data.n_eff + 1 / sampled.n_eff)
    kl_allowed = kl_ind + NOISE_FACTOR * kl_noise
    # moments
    from scipy.special import stdtrit

    max_z, n_z = _max_z(data, sampled, M)
    z_allowed = float(stdtrit(min(data.n_blocks, sampled.n_blocks) - 1, 1 - ALPHA / (2 * max(n_z, 1))))

    failures = []
    if runaway:
        failures.append("runaway")
    if kl > kl_allowed:
        failures.append("P(K)")
    if judge_moments and np.isfinite(max_z) and max_z > z_allowed:
        failures.append("moments")
    return CheckResult(
        passed=not failures, runaway=bool(runaway), failures=tuple(failures), pk_kl=kl, pk_kl_allowed=kl_allowed,
        pk_kl_independent=kl_ind, pk_kl_noise=kl_noise, mean_activity_model=sampled.mean_k / N,
        mean_activity_data=data.mean_k / N, mean_k_model=sampled.mean_k, mean_k_data=data.mean_k,
        fraction_outside=fraction_outside, max_z=max_z, max_z_allowed=z_allowed,
        moments_judged=bool(judge_moments), n_units_scored=int(units.size), n_chains=n_chains, n_sweeps=n_sweeps,
        n_model_states=int(states.shape[0]), n_data_rows=M, seed=seed, p_k_data=data.P, p_k_model=sampled.P,
    )


def check_fit(model, X, meta, what, advice, *, stacklevel=3, **options):
    """Run :func:`check_by_sampling` for a learner: store ``result.summary()`` as
    ``meta["check"]`` and, when the model fails, warn once (:class:`ModelCheckWarning`):
    "``what`` model <description>; ``advice``". Returns the :class:`CheckResult`."""
    result = check_by_sampling(model, X, **options)
    meta["check"] = result.summary()
    if result.passed is False and get_backend(options.get("backend", "auto")).is_root:
        warnings.warn(f"{what} model {result.describe()}; {advice}", ModelCheckWarning, stacklevel=stacklevel)
    return result
