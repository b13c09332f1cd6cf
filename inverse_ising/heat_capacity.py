"""Heat capacity C(T), entropy and multi-information of a model at any N.

Heat capacity
-------------
With E(s) = −log w(s) the model's energy and p_T(s) ∝ exp(−E(s)/T) (T = 1 is the model), the
heat capacity per spin is

    C(T) = Var_T(E) / (N T²).

N ≤ 20 (``method="auto"`` or "exact"): by enumeration of each p_T (``exact_solve`` of the model
scaled by 1/T).  Larger models ("tempering"): parallel tempering (replica exchange,
:class:`inverse_ising.tempering.TemperedChains`) over a ladder of temperatures from min(T) to
max(T) — geometric at first, then refined during the burn-in where exchanges are rare — and
multiple-histogram reweighting (Ferrenberg & Swendsen 1989) of all recorded energies to each
requested T.  With R rungs at βᵣ = 1/Tᵣ, each holding n samples, the dimensionless free energies
fᵣ = −ln Zᵣ (f₀ = 0) solve the self-consistent equations

    e^{−fᵣ} = Σₓ e^{−βᵣEₓ} / Σₛ n e^{fₛ − βₛEₓ}        (x over all R·n samples),

found here as the minimum of the convex function (the MBAR form, Shirts & Chodera 2008)

    Φ(f) = meanₓ ln Σᵣ e^{fᵣ − βᵣEₓ} − meanᵣ fᵣ

by Newton trust-region steps (``scipy.optimize.minimize``, exact gradient and Hessian).  A
sample then has weight Wₓ(β) ∝ e^{−βEₓ} / Σᵣ e^{fᵣ − βᵣEₓ} at any β inside the ladder, giving ⟨E⟩
and Var(E) at each requested T.  Errors: jackknife over the independent tempered chains (each
chain is a whole ladder; exchanges never mix chains).  A lattice is tempered through its pairwise
form (N² couplings in memory).

Entropy and multi-information
-----------------------------
    S/N = (⟨E⟩ + ln Z)/N                 (nats per spin; E = −log w, T = 1)

with ln Z and ⟨E⟩ from :func:`inverse_ising.log_partition.log_partition` (exact for N ≤ 20; AIS
with the energy recorded on its relaxed particles above).  The multi-information captured by a
pairwise model (Schneidman et al. 2006) is

    I = S₁ − S_model,   S₁ = Σᵢ H((1 + mᵢ)/2),   H(p) = −p ln p − (1 − p) ln(1 − p),

the entropy of independent spins with the means mᵢ (of the data, or of the model) less the
model's entropy, in nats (divide by ln 2 for bits).  For the maximum-entropy pairwise fit of data,
S₁ − S₂ is the I₂ of Schneidman et al., the part of the multi-information the correlations carry.
"""
import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import entr

from .backend import get_backend, seed_sequence
from .blas import blas_threads
from .errors import InputError
from .exact import MAX_SPINS, _as_data, exact_solve
from .log_partition import TILTS, LogZEstimate, _check_single_process, log_partition
from .progress import progress_bar
from .sampling import Chains, sample
from .stats import jackknife_over_chains
from .tempering import MAX_TEMPERATURES, TemperedChains, pairwise_energy
from .validation import as_positive_int

#: Times the burn-in stops to refine the ladder (TemperedChains.adapt).
ADAPT_ROUNDS = 5


@dataclass(frozen=True)
class HeatCapacity:
    """C(T) per spin at ``temperatures``, with ``stderr``, and the energy per spin ⟨E⟩/N
    (``energy`` ± ``energy_stderr``).  ``method`` is "exact" or "tempering"; ``ladder`` the
    temperatures tempered (None for "exact"), ``exchange_rates`` the exchange rate of each gap."""

    temperatures: np.ndarray
    C: np.ndarray
    stderr: np.ndarray
    energy: np.ndarray
    energy_stderr: np.ndarray
    method: str
    ladder: np.ndarray | None = None
    exchange_rates: np.ndarray | None = None


def _as_temperatures(temperatures):
    T = np.atleast_1d(np.asarray(temperatures, dtype=float))
    if T.ndim != 1 or T.size == 0 or not np.all(np.isfinite(T)) or np.any(T <= 0):
        raise InputError(f"temperatures must be positive finite numbers, got {temperatures!r}")
    return T


def _check_model(model, what):
    if getattr(model, "kind", None) not in TILTS:
        raise InputError(f"{what} needs a PairwiseIsing or LatticeIsing model, got {model!r}")


def heat_capacity(model, temperatures, seed=None, method="auto", *, n_chains=8, n_sweeps=4000, burn_in=1000,
                  thin=2, rule="metropolis", backend="auto", progress=None):
    """C(T) = Var_T(E)/(N T²) per spin at each of ``temperatures``, as a :class:`HeatCapacity`.

    ``method``: "auto" (exact for N ≤ 20, else "tempering"), "exact" or "tempering" (see the
    module text): ``n_chains`` independent tempered chains, ``burn_in`` sweeps (the ladder is
    refined ADAPT_ROUNDS times during it), then ``n_sweeps`` sweeps with the energies of every
    rung recorded every ``thin`` sweeps.
    """
    _check_model(model, "heat_capacity")
    if method not in ("auto", "exact", "tempering"):
        raise InputError(f"method must be 'auto', 'exact' or 'tempering', got {method!r}")
    T = _as_temperatures(temperatures)
    if method == "exact" or (method == "auto" and model.n_spins <= MAX_SPINS):
        return _exact_heat_capacity(model, T)
    return _tempered_heat_capacity(model, T, seed, as_positive_int(n_chains, "n_chains", minimum=2),
                                   as_positive_int(n_sweeps, "n_sweeps"), as_positive_int(burn_in, "burn_in", minimum=0),
                                   as_positive_int(thin, "thin"), rule, backend, progress)


def _exact_heat_capacity(model, T):
    """Enumeration at every T: p_T is the model scaled by 1/T, whose specific_heat is Var(E/T)/N."""
    solutions = [exact_solve(model.scaled(1.0 / t)) for t in T]
    C = np.array([s.specific_heat for s in solutions])
    u = np.array([s.energy * t for s, t in zip(solutions, T)])  # s.energy = ⟨E/T⟩/N
    zero = np.zeros_like(C)
    return HeatCapacity(T, C, zero, u, zero.copy(), "exact")


def _tempered_heat_capacity(model, T, seed, n_chains, n_sweeps, burn_in, thin, rule, backend, progress):
    backend = _check_single_process(get_backend(backend))
    pairwise = model.to_pairwise()
    t_lo, t_hi = float(T.min()), float(T.max())
    n_rungs = 1 if t_hi == t_lo else max(2, min(MAX_TEMPERATURES, int(np.unique(T).size)))
    betas = t_lo / np.geomspace(t_lo, t_hi, n_rungs)  # relative to the coldest rung, 1 first
    init_seed, tempering_seed = seed_sequence(seed).spawn(2)
    coldest = pairwise.scaled(1.0 / t_lo)
    chains = Chains(coldest, n_chains, rule, backend, init_seed)
    tempered = TemperedChains(chains, betas, seed=tempering_seed)
    n_records = n_sweeps // thin
    if n_records < 2:
        raise InputError(f"n_sweeps ({n_sweeps}) must allow at least two records every thin = {thin} sweeps")
    with progress_bar(burn_in + n_records * thin, f"tempering {model!r}", progress, backend) as bar, blas_threads(1):
        for part in np.array_split(np.arange(burn_in), ADAPT_ROUNDS):
            tempered.sweep(part.size)
            bar.update(part.size)
            if n_rungs > 1 and part.size:
                tempered.adapt()
        R = len(tempered.betas)
        energies = np.empty((n_records, n_chains, R))
        for t in range(n_records):
            tempered.sweep(thin)
            bar.update(thin)
            energies[t] = pairwise_energy(pairwise, tempered.states).reshape(R, n_chains).T
    rung_betas = tempered.betas / t_lo
    targets = 1.0 / T
    warm = {}

    def estimator(x):
        """[C(T)…, ⟨E⟩/N…] from pooled energies x (M, R), column r sampled at rung r."""
        f = free_energies(x, rung_betas, warm.get("f"))
        warm.setdefault("f", f)
        mean, var = reweighted_moments(x, rung_betas, f, targets)
        return np.concatenate([targets**2 * var, mean]) / model.n_spins

    value, error = jackknife_over_chains(estimator, energies)
    k = T.size
    return HeatCapacity(T, value[:k], error[:k], value[k:], error[k:], "tempering", 1.0 / rung_betas,
                        tempered.accept_rates)


def _log_denominators(E, betas, f):
    """ln Σᵣ e^{fᵣ − βᵣEₓ} for every pooled energy Eₓ (and the matrix of exponents)."""
    a = f[None, :] - E[:, None] * betas[None, :]
    top = a.max(axis=1)
    return top + np.log(np.exp(a - top[:, None]).sum(axis=1)), a


def free_energies(x, betas, start=None):
    """fᵣ = −ln Zᵣ + ln Z₀ of the rungs from energies x (M, R) (column r sampled at βᵣ): the
    minimum of Φ(f) = meanₓ ln Σᵣ e^{fᵣ − βᵣEₓ} − meanᵣ fᵣ with f₀ = 0 (module text)."""
    E = np.asarray(x, dtype=float).ravel()
    R = len(betas)
    if R == 1:
        return np.zeros(1)
    if start is None:  # thermodynamic integration: d(−ln Z)/dβ = ⟨E⟩
        means = np.asarray(x).mean(axis=0)
        start = np.concatenate([[0.0], np.cumsum(np.diff(betas) * 0.5 * (means[1:] + means[:-1]))])

    cache = {}

    def parts(f_rest):
        """(Φ, ∇Φ, ∇²Φ) over f₁…f_{R−1}; scipy asks for the value and the Hessian at the same point."""
        key = f_rest.tobytes()
        if key not in cache:
            cache.clear()
            f = np.concatenate([[0.0], f_rest])
            log_d, a = _log_denominators(E, betas, f)
            pi = np.exp(a - log_d[:, None])  # πᵣ(x), rows sum to 1
            p_mean = pi.mean(axis=0)
            hess = np.diag(p_mean) - pi.T @ pi / E.size
            cache[key] = (log_d.mean() - f.mean(), p_mean[1:] - 1.0 / R, hess[1:, 1:])
        return cache[key]

    result = minimize(lambda f: parts(f)[:2], np.asarray(start[1:], dtype=float), jac=True,
                      hess=lambda f: parts(f)[2], method="trust-exact", options={"gtol": 1e-10})
    return np.concatenate([[0.0], result.x])


def reweighted_moments(x, betas, f, targets):
    """⟨E⟩ and Var(E) at each target β from energies x (M, R) with the rungs' free energies f:
    weights Wₓ(β) ∝ e^{−βEₓ}/Σᵣ e^{fᵣ − βᵣEₓ} (module text)."""
    E = np.asarray(x, dtype=float).ravel()
    log_d, _ = _log_denominators(E, betas, f)
    mean, var = np.empty(len(targets)), np.empty(len(targets))
    for k, beta in enumerate(targets):
        log_w = -beta * E - log_d
        w = np.exp(log_w - log_w.max())
        w /= w.sum()
        mean[k] = w @ E
        var[k] = w @ (E - mean[k]) ** 2
    return mean, var


# ---------------------------------------------------------------------------------------------
# Entropy and multi-information
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entropy:
    """Entropy per spin S/N in nats, ``value`` ± ``stderr``, from ``energy`` = ⟨E⟩/N (± its
    error) and ``log_z`` (a :class:`LogZEstimate`)."""

    value: float
    stderr: float
    energy: float
    energy_stderr: float
    log_z: LogZEstimate


def entropy(model, seed=None, method="auto", **options):
    """S/N = (⟨E⟩ + ln Z)/N in nats per spin, as an :class:`Entropy`.

    N ≤ 20 under "auto" (or "exact"): enumeration.  Otherwise ln Z and ⟨E⟩ come from one AIS run
    (:func:`log_partition` with ``options``; ⟨E⟩ over its relaxed particles, which needs
    ``reverse=True``); the two errors are added in quadrature.
    """
    _check_model(model, "entropy")
    N = model.n_spins
    if method == "exact" or (method == "auto" and N <= MAX_SPINS):
        sol = exact_solve(model)
        log_z = LogZEstimate(sol.log_z, 0.0, "exact")
        return Entropy(sol.energy + sol.log_z / N, 0.0, sol.energy, 0.0, log_z)
    if options.get("reverse") is False:
        raise InputError("entropy needs the reverse run of log_partition (its relaxed particles give ⟨E⟩)")
    est = log_partition(model, method, seed, **options)
    return Entropy((est.energy + est.value) / N, math.hypot(est.energy_stderr, est.stderr) / N,
                   est.energy / N, est.energy_stderr / N, est)


@dataclass(frozen=True)
class MultiInformation:
    """I = S₁ − S_model in nats (``value`` ± ``stderr``), with the independent entropy S₁ and the
    model's entropy S_model (totals in nats, not per spin)."""

    value: float
    stderr: float
    independent_entropy: float
    model_entropy: float


#: States drawn to estimate the model's means when neither data nor enumeration gives them.
MEANS_SAMPLES = 10_000


def multi_information(model, data=None, seed=None, method="auto", **options):
    """Multi-information captured by ``model``, I = S₁ − S_model (nats), as a :class:`MultiInformation`.

    S₁ = Σᵢ H((1 + mᵢ)/2) uses the column means mᵢ of ``data`` ((M, N) ±1 or 0/1) when given, with
    the error √(Σᵢ ln²((1 − pᵢ)/pᵢ) pᵢ(1 − pᵢ)/M) of M independent rows and columns; otherwise the
    model's own means: exact for N ≤ 20, else those of MEANS_SAMPLES states drawn by
    :func:`inverse_ising.sampling.sample`, with the same error.  S_model is N times
    :func:`entropy` (``method``, ``seed`` and ``options`` are passed on).
    """
    _check_model(model, "multi_information")
    N = model.n_spins
    entropy_seed, means_seed = seed_sequence(seed).spawn(2)
    ent = entropy(model, entropy_seed, method, **options)
    independent_err = 0.0
    if data is None and ent.log_z.method != "exact":
        data = sample(model, MEANS_SAMPLES, seed=means_seed, progress=False)
    if data is not None:
        S = _as_data(data, N, "the model")
        m = S.mean(axis=0, dtype=np.float64)
        p = (1.0 + m) / 2.0
        inside = (p > 0.0) & (p < 1.0)  # a column that never changes has H = 0 and no error
        slope = np.zeros(N)
        slope[inside] = np.log((1.0 - p[inside]) / p[inside])  # dH/dp
        independent_err = math.sqrt(float(np.sum(slope**2 * p * (1.0 - p))) / S.shape[0])
    else:
        m = exact_solve(model).mean
    p = (1.0 + m) / 2.0
    s1 = float(np.sum(entr(p) + entr(1.0 - p)))
    s_model = ent.value * N
    return MultiInformation(s1 - s_model, math.hypot(independent_err, ent.stderr * N), s1, s_model)
