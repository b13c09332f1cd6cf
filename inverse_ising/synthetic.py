"""Known models and data sampled from them: retina-like populations and lattice images.

These generators make test and demonstration data whose true parameters are known, so that a
fit can be judged against the truth. Everything is drawn from ``numpy.random.SeedSequence(seed)``:
one seed gives the same model (and, for a given backend, the same data) every time.

Retina-like equilibrium model (:func:`retina_pairwise_model`)
--------------------------------------------------------------
Written in the 0/1 "neural" form, xᵢ = 1 when neuron i fires in a time bin,

    p(x) ∝ exp(Σᵢ bᵢxᵢ + Σ_{i<j} Wᵢⱼxᵢxⱼ),

with, for N neurons (default 40):

1. target firing probabilities per bin rᵢ drawn log-uniformly from ``rate_range``
   (default 2 %–8 %: with 20 ms bins, 1–4 Hz, like salamander retinal ganglion cells);
2. a sparse symmetric coupling graph: each pair i < j is connected with probability
   ``connectivity`` (default 0.15), and a connected pair gets Wᵢⱼ ~ Normal(``coupling_mean``,
   ``coupling_std``) = Normal(0.6, 0.6), so about three couplings in four are positive
   (excitatory, or shared input) and the rest negative;
3. fields from the naive mean-field condition rᵢ = σ(bᵢ + Σⱼ Wᵢⱼrⱼ), i.e.

       bᵢ = ln[rᵢ/(1 − rᵢ)] − Σⱼ Wᵢⱼ rⱼ,    σ(u) = 1/(1 + e⁻ᵘ).

   Correlations raise the realised rates a little above the targets; with the defaults they
   come out between about 2 % and 10 %, and P(K ≥ 8) is several times what independent neurons
   with the same rates would give — the regime where pairwise models are tested.

The model is returned in the package's ±1 form (SPEC §1) via
:func:`inverse_ising.neural_stats.neural_to_spin`: Jᵢⱼ = Wᵢⱼ/4, hᵢ = bᵢ/2 + Σⱼ Wᵢⱼ/4.
Data are equilibrium samples (:func:`retina_pairwise_data`) from independent Markov chains.

Retina-like kinetic model (:func:`retina_kinetic_model`)
---------------------------------------------------------
Parallel Glauber dynamics in the 0/1 form,

    P(xᵢ(t+1) = 1 | x(t)) = σ(bᵢ + Σⱼ Wᵢⱼ xⱼ(t)),

with directed couplings: each ordered pair (i ← j), i ≠ j, is connected independently with
probability ``connectivity`` (default 0.15), Wᵢⱼ ~ Normal(0.8, 0.8), so W is asymmetric; the
fields come from the stationary mean-field condition bᵢ = ln[rᵢ/(1 − rᵢ)] − Σⱼ Wᵢⱼ rⱼ with rᵢ
log-uniform in ``rate_range``. The same conversion gives the :class:`KineticIsing` form
Hᵢ(t) = hᵢ + Σⱼ Jᵢⱼsⱼ(t) with J = W/4, hᵢ = bᵢ/2 + Σⱼ Wᵢⱼ/4 (SPEC §1). Its data
(:func:`retina_kinetic_data`) are simulated trials of fixed length after a burn-in, so they
carry delayed correlations Dᵢⱼ = ⟨sᵢ(t+1)sⱼ(t)⟩ − mᵢmⱼ ≈ (1 − mᵢ²) Σₖ Jᵢₖ Cₖⱼ, and equal-time
correlations through shared inputs.

Near-critical retina-like family (:func:`near_critical_model`)
-------------------------------------------------------------------
Real retinal populations sit close to a peak of the specific heat of their fitted pairwise
models (Tkačik et al., PNAS 2015), where the maximum-likelihood model has a second, metastable
state in which most neurons fire. The family reproduces that regime with known parameters.
A base model in the 0/1 form, for N neurons:

1. rates rᵢ log-uniform in ``rate_range`` (default 3 %–10 %);
2. all pairs coupled, Wᵢⱼ ~ Normal(g/(N − 1), σ/√(N − 1)) with ``coupling_sum`` g and
   ``coupling_spread`` σ, so each neuron's total input from a fully active population,
   Σⱼ Wᵢⱼ ≈ g, and its spread σ do not change with N; with the defaults g = 5.9,
   σ = 1.05 (at N = 50: mean 0.12, s.d. 0.15) all but a few couplings are excitatory;
3. fields from the mean-field condition of the low-activity state,
   bᵢ = logit(rᵢ) − Σⱼ Wᵢⱼrⱼ, as for :func:`retina_pairwise_model`.

Member β scales the whole energy (the Tkačik construction, β = 1/T):

    p_β(x) ∝ p(x)^β = exp(β[Σᵢ bᵢxᵢ + Σ_{i<j} Wᵢⱼxᵢxⱼ]),

i.e. (b, W) → (βb, βW), and in the ±1 form (h, J) → (βh, βJ). At β = 1 the activity is sparse
(the fields dominate); as β grows the silent state deepens, but the all-active state, whose
energy −Σbᵢ − Σ_{i<j}Wᵢⱼ is below the silent state's 0 when g/2 > |b̄|, becomes a metastable
basin that gains mass, and the specific heat per spin

    C(β) = β² Var_β(E)/N,    E(x) = −Σᵢ bᵢxᵢ − Σ_{i<j} Wᵢⱼxᵢxⱼ,

peaks where the two basins exchange weight (:func:`specific_heat`: exact by enumeration for
N ≤ 20, sampled above). Data (:func:`near_critical_data`) are drawn like a recording that stays
in the low-activity basin: many short chains started from the silent state (or given states),
each recorded once after a short run, so few or no chains reach the high-activity basin even
where it holds much of the mass.

Lattice images (:func:`lattice_images`)
---------------------------------------
Equilibrium L×L configurations of :class:`LatticeIsing` (J, h per site), the course
assignment's data: the data that :mod:`inverse_ising.images` would produce from photographs.
"""
from dataclasses import dataclass, field

import numpy as np

from .backend import seed_sequence
from .data import Dataset
from .errors import InputError
from .exact import MAX_SPINS, exact_solve
from .models import KineticIsing, LatticeIsing, PairwiseIsing
from .neural_stats import neural_to_spin
from .sampling import sample, simulate
from .validation import as_positive_int, as_scalar

__all__ = [
    "SyntheticModel", "retina_pairwise_model", "retina_pairwise_data", "retina_kinetic_model",
    "retina_kinetic_data", "lattice_images", "near_critical_model", "near_critical_data", "specific_heat",
    "NEAR_CRITICAL_BETA",
]

#: β of the named member of :func:`near_critical_model` (N = 50, seed 0) on which the default
#: Boltzmann learner fails: sparse activity, a tail of P(K) into the 20s–30s and a
#: high-activity basin that the learner's persistent chains find.
NEAR_CRITICAL_BETA = 1.0


@dataclass
class SyntheticModel:
    """A generated model with its parameters in both forms.

    ``model``: the :class:`PairwiseIsing` or :class:`KineticIsing` (±1 form, what fits return);
    ``b``, ``W``: the same parameters in the 0/1 neural form; ``target_rates``: the rᵢ used to
    set the fields; ``params``: the generator's arguments (JSON-ready), for records and reports.
    """

    model: object
    b: np.ndarray
    W: np.ndarray
    target_rates: np.ndarray
    params: dict = field(default_factory=dict)

    @property
    def h(self):
        return self.model.h

    @property
    def J(self):
        return self.model.J


def _check_common(n_neurons, rate_range, connectivity):
    n = as_positive_int(n_neurons, "n_neurons", minimum=2)
    lo, hi = (float(v) for v in rate_range)
    if not 0.0 < lo <= hi < 0.5:
        raise InputError(f"rate_range must satisfy 0 < low <= high < 0.5, got {rate_range!r}")
    if not 0.0 <= float(connectivity) <= 1.0:
        raise InputError(f"connectivity must lie in [0, 1], got {connectivity!r}")
    return n, lo, hi


def _rates_and_couplings(n, lo, hi, connectivity, mean, std, seed, symmetric):
    rate_seed, graph_seed, weight_seed = seed_sequence(seed).spawn(3)
    r = np.exp(np.random.default_rng(rate_seed).uniform(np.log(lo), np.log(hi), n))
    mask = np.random.default_rng(graph_seed).random((n, n)) < connectivity
    weights = np.random.default_rng(weight_seed).normal(mean, std, (n, n))
    W = np.where(mask, weights, 0.0)
    np.fill_diagonal(W, 0.0)
    if symmetric:
        W = np.triu(W, 1)
        W = W + W.T
    b = np.log(r / (1.0 - r)) - W @ r
    return r, b, W


def retina_pairwise_model(n_neurons=40, rate_range=(0.02, 0.08), connectivity=0.15, coupling_mean=0.6,
                          coupling_std=0.6, seed=0):
    """A sparse, mostly excitatory pairwise model of a retinal population (see the module text).

    Returns a :class:`SyntheticModel` whose ``model`` is a :class:`PairwiseIsing` with
    J = W/4, hᵢ = bᵢ/2 + Σⱼ Wᵢⱼ/4, where Wᵢⱼ ~ Normal(coupling_mean, coupling_std) on a random
    graph of density ``connectivity`` and bᵢ = logit(rᵢ) − Σⱼ Wᵢⱼrⱼ for rates rᵢ log-uniform in
    ``rate_range``.
    """
    n, lo, hi = _check_common(n_neurons, rate_range, connectivity)
    r, b, W = _rates_and_couplings(n, lo, hi, connectivity, coupling_mean, coupling_std, seed, symmetric=True)
    h, J = neural_to_spin(b, W)
    params = {"generator": "retina_pairwise_model", "n_neurons": n, "rate_range": [lo, hi],
              "connectivity": float(connectivity), "coupling_mean": float(coupling_mean),
              "coupling_std": float(coupling_std), "seed": seed}
    return SyntheticModel(PairwiseIsing(h, J), b, W, r, params)


def retina_pairwise_data(n_samples, model=None, seed=1, backend="auto", n_chains=100, burn_in=300, thin=4,
                         progress=False):
    """Equilibrium samples of a retina-like pairwise model, as a :class:`Dataset`.

    ``model``: a :class:`SyntheticModel` or :class:`PairwiseIsing` (default
    ``retina_pairwise_model()``). The ``n_chains`` Metropolis chains start at random states, run
    ``burn_in`` sweeps and are recorded every ``thin`` sweeps; rows are ordered time, then chain.
    The rows are independent draws in the sense of the model (no dynamics), so the Dataset holds
    one trial per row (``trial_starts = 0 … M−1``) and no delayed correlation is formed from it.
    """
    synth = model if isinstance(model, SyntheticModel) else None
    pairwise = retina_pairwise_model().model if model is None else (synth.model if synth else model)
    if not isinstance(pairwise, PairwiseIsing):
        raise InputError(f"retina_pairwise_data needs a pairwise model, got {pairwise!r}")
    X = sample(pairwise, n_samples, rule="metropolis", backend=backend, seed=seed, n_chains=n_chains,
               burn_in=burn_in, thin=thin, progress=progress)
    meta = {"generator": "retina_pairwise_data", "seed": seed, "burn_in": burn_in, "thin": thin,
            "n_chains": n_chains, "model": synth.params if synth else repr(pairwise)}
    return Dataset(X, np.arange(X.shape[0], dtype=np.int64), None, meta, "synthetic:retina_pairwise")


def retina_kinetic_model(n_neurons=40, rate_range=(0.02, 0.08), connectivity=0.15, coupling_mean=0.8,
                         coupling_std=0.8, seed=0):
    """A sparse, mostly excitatory, asymmetric kinetic model of a retinal population.

    P(xᵢ(t+1) = 1 | x(t)) = σ(bᵢ + Σⱼ Wᵢⱼxⱼ(t)) with directed Wᵢⱼ ~ Normal(coupling_mean,
    coupling_std) on a random graph of density ``connectivity`` (no self-coupling) and
    bᵢ = logit(rᵢ) − Σⱼ Wᵢⱼrⱼ. Returns a :class:`SyntheticModel` whose ``model`` is the
    :class:`KineticIsing` with J = W/4, hᵢ = bᵢ/2 + Σⱼ Wᵢⱼ/4.
    """
    n, lo, hi = _check_common(n_neurons, rate_range, connectivity)
    r, b, W = _rates_and_couplings(n, lo, hi, connectivity, coupling_mean, coupling_std, seed, symmetric=False)
    h, J = neural_to_spin(b, W)
    params = {"generator": "retina_kinetic_model", "n_neurons": n, "rate_range": [lo, hi],
              "connectivity": float(connectivity), "coupling_mean": float(coupling_mean),
              "coupling_std": float(coupling_std), "seed": seed}
    return SyntheticModel(KineticIsing(h, J), b, W, r, params)


def retina_kinetic_data(n_trials, trial_length, model=None, seed=1, burn_in=100, backend="auto", progress=False):
    """``n_trials`` simulated trials of ``trial_length`` bins of a kinetic model, as a :class:`Dataset`.

    ``model``: a :class:`SyntheticModel` or :class:`KineticIsing` (default
    ``retina_kinetic_model()``). Each trial starts from a random state and runs ``burn_in`` steps
    before recording, so all bins are (close to) stationary. Rows are the trials one after the
    other (``trial_starts`` = 0, L, 2L, …), like repeats of a stimulus.
    """
    synth = model if isinstance(model, SyntheticModel) else None
    kinetic = retina_kinetic_model().model if model is None else (synth.model if synth else model)
    if not isinstance(kinetic, KineticIsing):
        raise InputError(f"retina_kinetic_data needs a kinetic model, got {kinetic!r}")
    n_trials = as_positive_int(n_trials, "n_trials")
    trial_length = as_positive_int(trial_length, "trial_length", minimum=2)
    S = simulate(kinetic, trial_length, seed=seed, n_trials=n_trials, burn_in=burn_in, backend=backend,
                 progress=progress)
    X = S.reshape(n_trials * trial_length, kinetic.n_spins)
    meta = {"generator": "retina_kinetic_data", "seed": seed, "burn_in": burn_in, "trial_length": trial_length,
            "model": synth.params if synth else repr(kinetic)}
    starts = np.arange(n_trials, dtype=np.int64) * trial_length
    return Dataset(X, starts, None, meta, "synthetic:retina_kinetic")


def near_critical_model(n_neurons=50, beta=1.0, seed=0, rate_range=(0.03, 0.10), coupling_sum=5.9,
                        coupling_spread=1.05):
    """Member β of the near-critical retina-like family (see the module text).

    Base (β = 1), 0/1 form: Wᵢⱼ ~ Normal(g/(N − 1), σ/√(N − 1)) for every pair i < j
    (g = ``coupling_sum``, σ = ``coupling_spread``), bᵢ = logit(rᵢ) − Σⱼ Wᵢⱼrⱼ with rᵢ
    log-uniform in ``rate_range``. Member: p_β(x) ∝ exp(β[Σᵢ bᵢxᵢ + Σ_{i<j} Wᵢⱼxᵢxⱼ]).
    Returns a :class:`SyntheticModel` with ``b`` = βb, ``W`` = βW and the ±1 form
    J = βW/4, hᵢ = β(bᵢ/2 + Σⱼ Wᵢⱼ/4); ``params["beta"]`` is β. One ``seed`` gives the same
    base for every β, so members differ only by the scale of the energy.
    """
    n, lo, hi = _check_common(n_neurons, rate_range, 1.0)
    beta = as_scalar(beta, "beta")
    if not beta > 0.0:
        raise InputError(f"beta must be positive, got {beta!r}")
    g, spread = as_scalar(coupling_sum, "coupling_sum"), as_scalar(coupling_spread, "coupling_spread")
    if spread < 0.0:
        raise InputError(f"coupling_spread must be >= 0, got {coupling_spread!r}")
    r, b, W = _rates_and_couplings(n, lo, hi, 1.0, g / (n - 1), spread / np.sqrt(n - 1), seed, symmetric=True)
    base = PairwiseIsing(*neural_to_spin(b, W))
    params = {"generator": "near_critical_model", "n_neurons": n, "beta": beta, "rate_range": [lo, hi],
              "coupling_sum": g, "coupling_spread": spread, "seed": seed}
    return SyntheticModel(base.scaled(beta), beta * b, beta * W, r, params)


def near_critical_data(n_samples, model=None, seed=1, init="silent", sweeps=100, backend="auto", progress=False):
    """States of a near-critical member drawn from its low-activity basin, as a :class:`Dataset`.

    ``model``: a :class:`SyntheticModel` or :class:`PairwiseIsing` (default: the named member
    ``near_critical_model(50, NEAR_CRITICAL_BETA)``). Each of the ``n_samples`` rows is its own
    Metropolis chain, started from ``init`` — "silent" (every neuron −1) or an (M, N) array of
    states from which each chain draws its start — and recorded once after ``sweeps`` sweeps.
    A short run from a low-activity start equilibrates inside the low-activity basin but rarely
    crosses into the high-activity one, as a finite recording of a population near criticality.
    One trial per row (``trial_starts = 0 … M−1``).
    """
    synth = model if isinstance(model, SyntheticModel) else None
    if model is None:
        synth = near_critical_model(50, NEAR_CRITICAL_BETA)
    pairwise = synth.model if synth else model
    if not isinstance(pairwise, PairwiseIsing):
        raise InputError(f"near_critical_data needs a pairwise model, got {pairwise!r}")
    n_samples = as_positive_int(n_samples, "n_samples")
    start = -np.ones((1, pairwise.n_spins), dtype=np.int8) if isinstance(init, str) and init == "silent" else init
    X = sample(pairwise, n_samples, rule="metropolis", backend=backend, seed=seed, n_chains=n_samples, burn_in=0,
               thin=as_positive_int(sweeps, "sweeps"), init=start, progress=progress)
    meta = {"generator": "near_critical_data", "seed": seed, "sweeps": sweeps,
            "init": init if isinstance(init, str) else "states", "model": synth.params if synth else repr(pairwise)}
    return Dataset(X, np.arange(X.shape[0], dtype=np.int64), None, meta, "synthetic:near_critical")


def specific_heat(model, n_samples=20000, seed=1, sweeps=100, backend="auto"):
    """Specific heat per spin C = Var(E)/N of an equilibrium pairwise model, E = −log w(s).

    For a family member p_β ∝ p^β the member's own energy is βE_base, so this is
    C(β) = β² Var_β(E_base)/N. N ≤ 20: exact, by enumeration (:func:`exact_solve`). Larger N:
    the variance of E over ``n_samples`` states of :func:`near_critical_data` (chains from the
    silent state, ``sweeps`` sweeps each), i.e. the specific heat of the low-activity basin —
    a coarse estimate (sampling error of a few per cent) that misses the high-activity basin's
    share where chains do not reach it.
    """
    pairwise = model.model if isinstance(model, SyntheticModel) else model
    if not isinstance(pairwise, PairwiseIsing):
        raise InputError(f"specific_heat needs a pairwise model, got {pairwise!r}")
    if pairwise.n_spins <= MAX_SPINS:
        return exact_solve(pairwise).specific_heat
    S = near_critical_data(n_samples, pairwise, seed=seed, sweeps=sweeps, backend=backend).spins
    return float(np.var(pairwise.energy(S)) / pairwise.n_spins)


def lattice_images(L=32, J=0.42, h=0.0, n_samples=1000, seed=1, backend="auto", n_chains=50, burn_in=1000,
                   thin=20, progress=False):
    """Equilibrium L×L configurations of the lattice model p(s) ∝ exp(J Σ_⟨ij⟩ sᵢsⱼ + h Σᵢ sᵢ).

    Metropolis chains start all up (``init="up"``, the ordered side of the transition: at
    J > K_c ≈ 0.4407 a random start would freeze into domains), run ``burn_in`` checkerboard
    sweeps and are recorded every ``thin`` sweeps. Returns a :class:`Dataset` of M images
    (one trial per image) with ``shape = (L, L)``, and the :class:`LatticeIsing` in ``meta``.
    """
    model = LatticeIsing(L, J, h)
    X = sample(model, n_samples, rule="metropolis", backend=backend, seed=seed, n_chains=n_chains, burn_in=burn_in,
               thin=thin, init="up", progress=progress)
    meta = {"generator": "lattice_images", "L": model.L, "J": model.J, "h": model.h, "seed": seed,
            "burn_in": burn_in, "thin": thin, "n_chains": n_chains}
    return Dataset(X, np.arange(X.shape[0], dtype=np.int64), (model.L, model.L), meta, "synthetic:lattice")
