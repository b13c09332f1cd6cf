"""The log partition function ln Z and the held-out log-likelihood of a model at any N.

N ≤ 20: exact enumeration (:func:`inverse_ising.exact.exact_log_z`).  Larger models: annealed
importance sampling (AIS, Neal 2001) along a path of distributions from a factorised base to the
model, checked by running the path in reverse.

The path
--------
With the model's log weight log w(s) and a base of independent spins with fields g,

    log f_β(s) = g·s + β U(s),   U(s) = log w(s) − g·s,   0 = β₀ < β₁ < … < β_K = 1,

so f₀ is the factorised base, whose ln Z₀ = Σᵢ ln 2cosh gᵢ is known, and f₁ = w.  The default base
is the model's fields (g = h: only the couplings are switched on; ``base="uniform"`` is g = 0,
i.e. the whole energy scaled by β; an array gives g).  For the pairwise model f_β is the pairwise
model with fields (1 − β)g + βh and couplings βJ; for the lattice, the lattice with βJ and
(1 − β)g + βh.  A model kind joins by entering a function into ``TILTS`` that returns the model
of log weight β log w + (1 − β) g·s, one that :class:`inverse_ising.sampling.Chains` can sweep.

Forward AIS
-----------
P particles start from exact draws of f₀.  At step k = 1 … K each particle's log weight gains

    log f_{β_k}(x) − log f_{β_{k−1}}(x) = (β_k − β_{k−1}) U(x),

then x is moved by one sweep (Metropolis or Glauber, the package's kernels) that leaves f_{β_k}
invariant.  E[w] = Z/Z₀, so the estimate is

    ln Ẑ = ln Z₀ + ln (1/P) Σ_p e^{log w_p},

whose standard error (delta method) is σ = √(Var(e^{log w})/P) / mean(e^{log w}).  The effective
sample size is ESS = (Σ w)²/Σ w².  E[ln Ẑ] ≤ ln Z (Jensen): forward AIS underestimates, in
expectation, a "stochastic lower bound".

Reverse AIS and the bias check
------------------------------
The forward particles' final states, after ``n_relax`` more sweeps at β = 1, start the path run
backwards: x ~ w/Z, then for k = K … 1 the log weight gains −(β_k − β_{k−1}) U(x) and x is swept at
β_{k−1}.  Now E[w_rev] = Z₀/Z and

    ln Ẑ_rev = ln Z₀ − ln (1/P) Σ_p e^{log w_rev,p}

overestimates in expectation when the starts are equilibrium draws (Burda, Grosse &
Salakhutdinov 2015).  The two estimates bracket ln Z; the Bennett acceptance ratio of both sets of
weights (Crooks 2000; Shirts et al. 2003) gives the bridge estimate, with a bootstrap error.
When forward and reverse differ by more than ``DISAGREE_Z`` combined standard errors a
one-line warning says so: the path is too short, or the chains do not mix.  Both miss a basin
that neither the forward particles nor their continuations reach.

Defaults and cost
-----------------
Unless ``schedule`` is given, a pilot (``PILOT_PARTICLES`` particles, ``PILOT_STEPS`` equal steps)
measures σ(β) = √Var_β(U) from the particles and the variance v₀ of its log weights.  The
temperatures are then placed at equal thermodynamic length, β_k = Λ⁻¹(k Λ(1)/K) with
Λ(β) = ∫₀^β σ(b) db, which minimises Σ_k (Δβ_k)² σ²(β_k) for a given K.  For slowly changing
distributions Var(log w) ≈ r Σ_k (Δβ_k)² σ_k² = r Λ²/K, where the lag factor r ≥ 1 (about twice
the autocorrelation time of U in sweeps) is measured on the pilot; K is chosen so that the
variance is ln(1 + P σ*²) for the target error σ* (lognormal weights: σ² = (e^v − 1)/P).  When the
main run's σ is still above the target, or its log weights vary more than twice as much as
planned (heavy tails make σ itself unreliable), it is repeated with K scaled by the variance seen
(Var(log w) ∝ 1/K), at most ``MAX_ROUNDS`` rounds in all, K at most ``MAX_STEPS``; a final σ above
twice the target is warned about.  Time is linear in P·K·(cost of a sweep);
:func:`estimate_cost` measures a short run and extrapolates.
"""
import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

from .backend import get_backend, seed_sequence
from .blas import blas_threads
from .errors import InputError
from .exact import MAX_SPINS, _as_data, exact_log_z
from .models import LatticeIsing, PairwiseIsing
from .progress import progress_bar
from .sampling import Chains
from .stats import mean_and_error
from .tempering import pairwise_energy
from .validation import as_positive_int, as_scalar

#: Particles used by default (the error of ln Ẑ falls as 1/√P at a fixed K).
DEFAULT_PARTICLES = 256
#: Target standard error of ln Ẑ for the automatic schedule.
DEFAULT_TARGET_STDERR = 0.05
PILOT_PARTICLES = 32
PILOT_STEPS = 200
MIN_STEPS, MAX_STEPS = 100, 200_000
MAX_ROUNDS = 3
#: Forward and reverse estimates disagree when they differ by more than this many combined errors.
DISAGREE_Z = 3.0
BOOTSTRAP = 200


# ---------------------------------------------------------------------------------------------
# The path
# ---------------------------------------------------------------------------------------------

def _tilt_pairwise(model, beta, g):
    return PairwiseIsing(beta * model.h + (1.0 - beta) * g, beta * model.J)


def _tilt_lattice(model, beta, g):
    return LatticeIsing(model.L, beta * model.J, beta * model.h + (1.0 - beta) * g, model.boundary)


#: model kind → (model, β, g) ↦ the model with log weight β log w(s) + (1 − β) g·s.
TILTS = {"pairwise": _tilt_pairwise, "lattice": _tilt_lattice}


def lattice_bond_sum(S, L, boundary):
    """Σ_⟨ij⟩ sᵢsⱼ of every row of an (M, L²) int8 array of valid spins, each bond once (the inner
    loop's form of :meth:`LatticeIsing.bond_sum`, without its input checks)."""
    g = S.reshape(-1, L, L)
    if boundary == "periodic":
        right, down = g * np.roll(g, -1, axis=2), g * np.roll(g, -1, axis=1)
    else:
        right, down = g[:, :, :-1] * g[:, :, 1:], g[:, :-1, :] * g[:, 1:, :]
    return right.sum(axis=(1, 2), dtype=np.int64) + down.sum(axis=(1, 2), dtype=np.int64)


class AnnealingPath:
    """log f_β(s) = g·s + β U(s), U = log w − g·s, from the base exp(g·s)/Z₀ (β = 0) to the model.

    ``base``: "fields" (g = h), "uniform" (g = 0) or an array of fields (a scalar for a lattice,
    whose tilted models keep one field for all sites).
    """

    def __init__(self, model, base="fields"):
        if getattr(model, "kind", None) not in TILTS:
            raise InputError(f"log_partition needs a PairwiseIsing or LatticeIsing model, got {model!r}")
        self.model = model
        lattice = model.kind == "lattice"
        if isinstance(base, str):
            if base not in ("fields", "uniform"):
                raise InputError(f"base must be 'fields', 'uniform' or an array of fields, got {base!r}")
            g = model.h if base == "fields" else 0.0
        else:
            g = as_scalar(base, "base") if lattice else np.asarray(base, dtype=float)
            if not lattice and (g.shape != (model.n_spins,) or not np.all(np.isfinite(g))):
                raise InputError(f"base fields must be {model.n_spins} finite numbers, got shape {g.shape}")
        self.g = float(g) if lattice else np.broadcast_to(np.asarray(g, dtype=float), (model.n_spins,)).copy()
        g_sites = np.broadcast_to(self.g, (model.n_spins,))
        self._g_sites = g_sites
        self.log_z0 = float(np.sum(np.logaddexp(g_sites, -g_sites)))  # Σᵢ ln 2cosh gᵢ
        self._p_up = expit(2.0 * g_sites)  # P(sᵢ = +1) = e^{gᵢ}/(2 cosh gᵢ)
        if lattice:
            self._interaction = lambda S: model.J * lattice_bond_sum(S, model.L, model.boundary) \
                + (model.h - self.g) * S.sum(axis=1, dtype=np.int64)
        else:
            rest = PairwiseIsing(model.h - self.g, model.J)
            self._interaction = lambda S: -pairwise_energy(rest, S)

    def U(self, S):
        """U(s) = log w(s) − g·s for every row of S."""
        return self._interaction(S)

    def log_weight(self, S):
        """log w(s) = U(s) + g·s for every row of S (valid spins, unchecked)."""
        return self.U(S) + S @ self._g_sites

    def at(self, beta):
        """The model whose log weight is log f_β (β U + g·s)."""
        return TILTS[self.model.kind](self.model, float(beta), self.g)

    def base_states(self, n, rng):
        """``n`` exact draws of the base, (n, N) int8."""
        return np.where(rng.random((n, self.model.n_spins)) < self._p_up, 1, -1).astype(np.int8)


# ---------------------------------------------------------------------------------------------
# Estimates
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LogZEstimate:
    """ln Z of a model: ``value`` ± ``stderr`` by ``method`` ("exact" or "ais").

    AIS diagnostics (None for "exact"): ``reverse`` ± ``reverse_stderr`` (reverse AIS, an
    overestimate in expectation), ``bridge`` ± ``bridge_stderr`` (Bennett's acceptance ratio of
    both), ``ess`` (effective sample size of the forward weights), ``log_weight_var`` (their
    variance), ``n_particles``, ``n_temperatures`` (K), ``energy`` ± ``energy_stderr`` (mean
    E = −log w over the second half of the relaxation sweeps, with the autocorrelation-corrected
    error of :func:`inverse_ising.stats.mean_and_error`), ``seconds``.
    """

    value: float
    stderr: float
    method: str
    reverse: float | None = None
    reverse_stderr: float | None = None
    bridge: float | None = None
    bridge_stderr: float | None = None
    ess: float | None = None
    log_weight_var: float | None = None
    n_particles: int | None = None
    n_temperatures: int | None = None
    energy: float | None = None
    energy_stderr: float | None = None
    seconds: float = 0.0

    @property
    def agree(self):
        """False when forward and reverse AIS differ by more than DISAGREE_Z combined errors."""
        if self.reverse is None:
            return True
        return abs(self.reverse - self.value) <= DISAGREE_Z * math.hypot(self.stderr, self.reverse_stderr)


def log_mean_exp(a):
    """(ln (1/P) Σ e^{a_p}, its delta-method error √(Var(e^a)/P)/mean(e^a), ESS = (Σe^a)²/Σe^{2a})."""
    a = np.asarray(a, dtype=float)
    top = a.max()
    w = np.exp(a - top)
    mean = w.mean()
    stderr = w.std(ddof=1) / math.sqrt(a.size) / mean if a.size > 1 else math.inf
    return float(top + math.log(mean)), float(stderr), float(w.sum() ** 2 / np.sum(w * w))


def bridge_estimate(forward, reverse):
    """Bennett's acceptance ratio for c = ln(Z/Z₀) from forward log weights a (E[e^a] = e^c) and
    reverse ones b (E[e^b] = e^{−c}): the root of Σᵢ σ(aᵢ − c − M) = Σⱼ σ(bⱼ + c + M),
    σ the logistic function, M = ln(n_a/n_b)."""
    a, b = np.asarray(forward, float), np.asarray(reverse, float)
    M = math.log(a.size / b.size)

    def gap(c):
        return expit(a - c - M).sum() - expit(b + c + M).sum()

    lo, hi = min(a.min(), -b.max()) - 1.0, max(a.max(), -b.min()) + 1.0
    return brentq(gap, lo - M, hi - M, xtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Annealing runs
# ---------------------------------------------------------------------------------------------

def _forward(path, betas, chains, rng, bar=None, record_sigma=False):
    """Forward AIS of ``chains`` along ``betas`` from exact base draws: (log weights, σ_k or None)."""
    chains.restore(path.base_states(chains.n_local, rng))
    log_w = np.zeros(chains.n_local)
    sigma = np.empty(len(betas) - 1) if record_sigma else None
    with blas_threads(1):  # U's small products: one BLAS thread beside the kernels' own
        for k in range(1, len(betas)):
            u = path.U(chains.spins)
            log_w += (betas[k] - betas[k - 1]) * u
            if record_sigma:
                sigma[k - 1] = u.std()
            chains.set_model(path.at(betas[k]))
            chains.sweep(1)
            if bar is not None:
                bar.update(1)
    return log_w, sigma


def _reverse(path, betas, chains, bar=None):
    """Reverse AIS of ``chains`` (states of the model) along ``betas`` from β = 1 down to 0."""
    log_w = np.zeros(chains.n_local)
    with blas_threads(1):
        for k in range(len(betas) - 1, 0, -1):
            log_w -= (betas[k] - betas[k - 1]) * path.U(chains.spins)
            if k > 1:
                chains.set_model(path.at(betas[k - 1]))
                chains.sweep(1)
            if bar is not None:
                bar.update(1)
    return log_w


def _relax(path, chains, n_sweeps, bar=None):
    """``n_sweeps`` sweeps of the particles at β = 1; returns the energies E = −log w of the
    particles after every sweep of the second half (or of the current states when n_sweeps < 2)
    as a (T, P) array."""
    chains.set_model(path.model)
    first = n_sweeps // 2
    if first:
        chains.sweep(first)
    energies = [-path.log_weight(chains.spins)] if n_sweeps < 2 else []
    with blas_threads(1):
        for _ in range(n_sweeps - first):
            chains.sweep(1)
            energies.append(-path.log_weight(chains.spins))
    if bar is not None:
        bar.update(n_sweeps)
    return np.array(energies)


def _length_schedule(pilot_betas, sigma, n_steps):
    """β_k = Λ⁻¹(k Λ(1)/K), Λ(β) = ∫₀^β σ: equal thermodynamic length per step (σ piecewise
    constant on the pilot's steps)."""
    sigma = np.maximum(sigma, 1e-3 * max(sigma.max(), 1e-12))
    length = np.concatenate([[0.0], np.cumsum(np.diff(pilot_betas) * sigma)])
    betas = np.interp(np.linspace(0.0, length[-1], n_steps + 1), length, pilot_betas)
    betas[0], betas[-1] = 0.0, 1.0
    return betas


def _check_single_process(backend):
    if backend.size != 1:
        raise InputError("log_partition and the evaluation functions run in one process (not under MPI)")
    return backend


def _as_schedule(schedule):
    betas = np.asarray(schedule, dtype=float)
    if betas.ndim != 1 or betas.size < 2 or betas[0] != 0.0 or betas[-1] != 1.0 or np.any(np.diff(betas) <= 0):
        raise InputError("schedule must increase strictly from 0 to 1 (at least two values)")
    return betas


def log_partition(model, method="auto", seed=None, *, n_particles=None, n_temperatures=None, schedule=None,
                  target_stderr=DEFAULT_TARGET_STDERR, base="fields", reverse=True, n_relax=None,
                  rule="metropolis", backend="auto", progress=None):
    """ln Z of a PairwiseIsing or LatticeIsing model, as a :class:`LogZEstimate`.

    ``method``: "auto" (enumeration for N ≤ 20, else AIS), "exact" or "ais".  AIS (see the module
    text): ``n_particles`` (default 256), ``n_temperatures`` K (default: chosen from a pilot run to
    reach ``target_stderr``), or an explicit ``schedule`` of β from 0 to 1; ``base`` of the path;
    ``reverse`` runs the reverse AIS from the particles after ``n_relax`` sweeps at β = 1 (default
    max(100, K/10)) and warns when it disagrees with the forward estimate.  ``rule`` is the
    sweep's update rule, ``backend`` the kernels, ``progress`` a tqdm bar (None: when stderr is a
    terminal).  Rounds after the first (when the error is above ``target_stderr``) apply only
    when neither K nor the schedule is given.
    """
    if method not in ("auto", "exact", "ais"):
        raise InputError(f"method must be 'auto', 'exact' or 'ais', got {method!r}")
    if getattr(model, "kind", None) not in TILTS:
        raise InputError(f"log_partition needs a PairwiseIsing or LatticeIsing model, got {model!r}")
    if method == "exact" or (method == "auto" and model.n_spins <= MAX_SPINS):
        start = time.perf_counter()
        return LogZEstimate(exact_log_z(model), 0.0, "exact", seconds=time.perf_counter() - start)
    start = time.perf_counter()
    path = AnnealingPath(model, base)
    backend = _check_single_process(get_backend(backend))
    P = DEFAULT_PARTICLES if n_particles is None else as_positive_int(n_particles, "n_particles", minimum=2)
    target_stderr = as_scalar(target_stderr, "target_stderr")
    if target_stderr <= 0:
        raise InputError(f"target_stderr must be positive, got {target_stderr}")
    pilot_seed, run_seed, boot_seed = seed_sequence(seed).spawn(3)
    adaptive = schedule is None and n_temperatures is None
    if schedule is not None:
        betas = _as_schedule(schedule)
    else:
        with progress_bar(PILOT_STEPS, f"AIS pilot of {model!r}", progress, backend, unit="step") as bar:
            betas = _pilot_schedule(path, P, target_stderr, n_temperatures, pilot_seed, rule, backend, bar)
    rounds = run_seed.spawn(MAX_ROUNDS if adaptive else 1)
    for r, round_seed in enumerate(rounds):
        K = len(betas) - 1
        init_seed, chain_seed = round_seed.spawn(2)
        chains = Chains(path.at(betas[1]), P, rule, backend, chain_seed)
        with progress_bar(K, f"AIS ln Z of {model!r} (K={K}, P={P})", progress, backend, unit="step") as bar:
            log_w, _ = _forward(path, betas, chains, np.random.default_rng(init_seed), bar)
        value, stderr, ess = log_mean_exp(log_w)
        v = float(np.var(log_w, ddof=1))
        K_next = _steps_for(v, K, P, target_stderr)
        if (stderr <= target_stderr and K_next <= 2 * K) or K_next <= K or r + 1 == len(rounds):
            break
        betas = np.interp(np.linspace(0.0, 1.0, K_next + 1), np.linspace(0.0, 1.0, K + 1), betas)
    fields = {"value": path.log_z0 + value, "stderr": stderr, "method": "ais", "ess": ess, "log_weight_var": v,
              "n_particles": P, "n_temperatures": K}
    if adaptive and stderr > 2 * target_stderr:
        warnings.warn(f"AIS ln Z of {model!r}: error {stderr:.3f} after K = {K} steps, above the target "
                      f"{target_stderr:g}; use more particles", RuntimeWarning, stacklevel=2)
    if reverse:
        relax = relax_sweeps(K, n_relax)
        with progress_bar(relax + K, f"reverse AIS of {model!r}", progress, backend, unit="step") as bar:
            energy, energy_err = mean_and_error(_relax(path, chains, relax, bar))
            log_w_rev = _reverse(path, betas, chains, bar)
        rev, rev_err, _ = log_mean_exp(log_w_rev)
        fields.update(reverse=path.log_z0 - rev, reverse_stderr=rev_err,
                      energy=energy, energy_stderr=energy_err,
                      **_bridge_with_error(log_w, log_w_rev, path.log_z0, boot_seed))
    estimate = LogZEstimate(seconds=time.perf_counter() - start, **fields)
    if not estimate.agree:
        warnings.warn(f"AIS ln Z of {model!r}: forward {estimate.value:.4f} ± {estimate.stderr:.4f} and reverse "
                      f"{estimate.reverse:.4f} ± {estimate.reverse_stderr:.4f} disagree; use more temperatures "
                      "(the chains may not mix)", RuntimeWarning, stacklevel=2)
    return estimate


def relax_sweeps(K, n_relax=None):
    """Sweeps at β = 1 between the forward and the reverse run: ``n_relax``, default max(100, K/10)."""
    return max(100, K // 10) if n_relax is None else as_positive_int(n_relax, "n_relax", minimum=0)


def _steps_for(v, K, P, target_stderr):
    """K that brings Var(log w) = v (measured at K steps) to ln(1 + P σ*²), with Var ∝ 1/K."""
    v_target = math.log1p(P * target_stderr**2)
    return int(min(MAX_STEPS, max(MIN_STEPS, math.ceil(K * v / v_target))))


def _pilot_schedule(path, P, target_stderr, n_temperatures, seed_seq, rule, backend, bar=None):
    """The main run's β schedule: equal thermodynamic length, K from the pilot (module text)."""
    init_seed, chain_seed = seed_seq.spawn(2)
    pilot_betas = np.linspace(0.0, 1.0, PILOT_STEPS + 1)
    chains = Chains(path.at(pilot_betas[1]), PILOT_PARTICLES, rule, backend, chain_seed)
    log_w, sigma = _forward(path, pilot_betas, chains, np.random.default_rng(init_seed), bar, record_sigma=True)
    if n_temperatures is not None:
        K = as_positive_int(n_temperatures, "n_temperatures")
    else:
        equilibrium_var = float(np.sum(np.diff(pilot_betas) ** 2 * sigma**2))
        lag = max(1.0, float(np.var(log_w, ddof=1)) / max(equilibrium_var, 1e-300))
        length = float(np.sum(np.diff(pilot_betas) * sigma))
        K = _steps_for(lag * length**2, 1, P, target_stderr)
    return _length_schedule(pilot_betas, sigma, K)


def _bridge_with_error(log_w, log_w_rev, log_z0, seed_seq):
    """Bridge estimate of ln Z and its bootstrap error over particles."""
    rng = np.random.default_rng(seed_seq)
    boot = [bridge_estimate(rng.choice(log_w, log_w.size), rng.choice(log_w_rev, log_w_rev.size))
            for _ in range(BOOTSTRAP)]
    return {"bridge": log_z0 + bridge_estimate(log_w, log_w_rev), "bridge_stderr": float(np.std(boot, ddof=1))}


# ---------------------------------------------------------------------------------------------
# Cost
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CostEstimate:
    """Predicted cost of an AIS run: ``seconds`` (from ``seconds_per_step``, measured), ``steps``
    (sweeps of all particles: forward K, relaxation and reverse K) and ``memory_bytes``."""

    seconds: float
    seconds_per_step: float
    steps: int
    memory_bytes: int


def estimate_cost(model, n_particles=DEFAULT_PARTICLES, n_temperatures=1000, reverse=True, n_relax=None,
                  rule="metropolis", backend="auto", seed=0, n_probe=20):
    """Time and memory of :func:`log_partition` with P = ``n_particles`` and K = ``n_temperatures``.

    Times ``n_probe`` annealing steps (U(x), a tilted model and a sweep of every particle) at
    β = ½ and extrapolates linearly to K + n_relax + K steps (K without ``reverse``); the pilot adds
    PILOT_STEPS steps of PILOT_PARTICLES.  Memory: the particles (P·N bytes), the kernels' local
    fields and U's products (2·8·P·N bytes), and three N×N float64 coupling matrices (the
    model's, the tilted one, the kernel's cached copy) for a pairwise model.
    """
    path = AnnealingPath(model)
    backend = _check_single_process(get_backend(backend))
    P = as_positive_int(n_particles, "n_particles", minimum=2)
    K = as_positive_int(n_temperatures, "n_temperatures")
    n_probe = as_positive_int(n_probe, "n_probe")
    init_seed, chain_seed = seed_sequence(seed).spawn(2)
    chains = Chains(path.at(0.5), P, rule, backend, chain_seed)
    probe = np.linspace(0.4, 0.6, n_probe + 2)
    _forward(path, probe[:2], chains, np.random.default_rng(init_seed))  # first call: caches, threads
    start = time.perf_counter()
    _forward(path, probe[1:], chains, np.random.default_rng(init_seed))
    per_step = (time.perf_counter() - start) / n_probe
    relax = relax_sweeps(K, n_relax) if reverse else 0
    steps = K + relax + (K if reverse else 0)
    N = model.n_spins
    memory = P * N * (1 + 16) + (3 * 8 * N * N if model.kind == "pairwise" else 0)
    pilot = PILOT_STEPS * PILOT_PARTICLES / P
    return CostEstimate(per_step * (steps + pilot), per_step, steps, int(memory))


# ---------------------------------------------------------------------------------------------
# Log-likelihood
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LogLikelihood:
    """Mean log-likelihood per sample in nats, ``value`` ± ``stderr``: the data's sampling error
    ``data_stderr`` and ln Z's error combined in quadrature; ``log_z`` is the :class:`LogZEstimate`."""

    value: float
    stderr: float
    data_stderr: float
    log_z: LogZEstimate


def log_likelihood(model, X, method="auto", seed=None, log_z=None, **options):
    """Mean log-likelihood per sample of the rows of ``X`` (±1 spins or 0/1), in nats:

        ℓ = (1/M) Σ_μ log w(s^μ) − ln Z,    σ_ℓ² = Var_μ(log w(s^μ))/M + σ_{ln Z}².

    ln Z comes from :func:`log_partition` (``method``, ``seed`` and keyword ``options`` are passed
    on; exact for N ≤ 20 under "auto") unless a :class:`LogZEstimate` is given as ``log_z``.
    The rows are treated as independent draws.
    """
    if getattr(model, "kind", None) not in TILTS:
        raise InputError(f"log_likelihood needs a PairwiseIsing or LatticeIsing model, got {model!r}")
    S = _as_data(X, model.n_spins, "the model")
    if log_z is None:
        log_z = log_partition(model, method, seed, **options)
    elif not isinstance(log_z, LogZEstimate):
        raise InputError(f"log_z must be a LogZEstimate (from log_partition), got {type(log_z).__name__}")
    lw = model.log_weight(S)
    data_err = float(lw.std(ddof=1) / math.sqrt(lw.size)) if lw.size > 1 else 0.0
    return LogLikelihood(float(lw.mean() - log_z.value), math.hypot(data_err, log_z.stderr), data_err, log_z)


def independent_blocks(blocks):
    """One PairwiseIsing made of independent ``blocks`` (PairwiseIsing models): h is their
    concatenation, J block-diagonal.  ln Z is the sum of the blocks' ln Z, which enumeration gives
    exactly when every block has ≤ 20 spins — a large model whose ln Z is known."""
    if not blocks or not all(isinstance(b, PairwiseIsing) for b in blocks):
        raise InputError("independent_blocks needs a non-empty list of PairwiseIsing models")
    h = np.concatenate([b.h for b in blocks])
    J = np.zeros((h.size, h.size))
    start = 0
    for b in blocks:
        J[start:start + b.n_spins, start:start + b.n_spins] = b.J
        start += b.n_spins
    return PairwiseIsing(h, J)
