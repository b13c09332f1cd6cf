"""Boltzmann learning: maximum likelihood by moment matching, with model moments from Markov chains.

Sign convention (SPEC §1): log p(s) = Σᵢ hᵢsᵢ + Σ_{i<j} Jᵢⱼsᵢsⱼ − ln Z, positive J ferromagnetic.

The likelihood and its gradient
-------------------------------
For M samples s^μ the mean log-likelihood of the pairwise model, with the package's penalty
(the same as :func:`inverse_ising.pseudolikelihood.fit_pseudolikelihood` and
:func:`inverse_ising.exact.exact_mle`), is

    ℓ(h, J) = Σᵢ hᵢ⟨sᵢ⟩_d + Σ_{i<j} Jᵢⱼ⟨sᵢsⱼ⟩_d − ln Z(h, J) − l2 (Σᵢ hᵢ² + Σ_{i<j} Jᵢⱼ²) − l1 Σ_{i<j} |Jᵢⱼ|,

whose gradient is the difference between the data's moments and the model's,

    ∂ℓ/∂hᵢ  = ⟨sᵢ⟩_d − ⟨sᵢ⟩_model − 2 l2 hᵢ,
    ∂ℓ/∂Jᵢⱼ = ⟨sᵢsⱼ⟩_d − ⟨sᵢsⱼ⟩_model − 2 l2 Jᵢⱼ − l1 sign Jᵢⱼ,

and whose Hessian is −(F + 2 l2 I), F = Cov_model(φ) the Fisher information of the sufficient
statistics φ = (sᵢ, sᵢsⱼ).  ℓ is concave: the maximum is where the model reproduces the data's
⟨sᵢ⟩ and ⟨sᵢsⱼ⟩ (up to the penalty).  The model's moments are estimated from persistent Markov
chains (:class:`inverse_ising.sampling.Chains`, any update rule and backend) that start from data
states (SPEC §8) and carry on from one parameter update to the next.

The lattice model log p = J Σ_⟨ij⟩ sᵢsⱼ + h Σᵢ sᵢ − ln Z has only two sufficient statistics per
configuration, the bond sum B = Σ_⟨ij⟩ sᵢsⱼ and the magnetisation sum S = Σᵢ sᵢ; its gradient is
(B̄_d − ⟨B⟩, S̄_d − ⟨S⟩) per configuration and F is their 2 × 2 covariance.

Steps (``optimizer``)
---------------------
* ``"natural"`` (default): natural-gradient (Newton) steps δθ = (F + 2 l2 + λD)⁻¹ ∇ℓ.  For the
  lattice F is the 2 × 2 covariance of (B, S) from the chains.  For the pairwise model F is never
  formed: the linear system is solved by preconditioned conjugate gradients (``cg_iter``) with
  Fisher-vector products Fv = Cov(φ, φ·v) from ≈ 10 × (number of parameters) chain states, in
  *centred* coordinates (the statistics sᵢ − cᵢ, (sᵢ − cᵢ)(sⱼ − cⱼ) with c the data means,
  hᵢ = aᵢ − Σⱼ Jᵢⱼcⱼ).  D, the model's variances of those statistics (exact, from the chains'
  moments: :func:`centred_variances`), is the preconditioner, the Levenberg–Marquardt damping
  (λ = 0.3) and a floor under the sampled diagonal of F (rare coincidences have a curvature that
  a few thousand states cannot estimate).  For independent spins D *is* the Fisher information,
  and the first CG iterate is the gradient step "scaled by the standard errors" with the best
  step length; further iterates add the correlations.  The step is multiplied by a gain
  η = s/(s + n) ∈ [0.1, 1], s the squared moment error that the sample resolves and n its noise
  (see Convergence): a full Newton step while the fit is far off, an average over ~1/η noisy
  steps once sampling noise dominates.  A trust region caps max(|δa|, |δJ|) in centred
  coordinates at 0.5 (halved whenever the error grows, then regrown).
* ``"adam"``: Adam (Kingma & Ba) on ∇ℓ with rate ``learning_rate`` (default 0.02), times the
  same gain η.
* ``"sgd"``: the plain rule of the course notes, θ ← θ + α ∇ℓ with a fixed α =
  ``learning_rate`` (default 0.1), no trust region, no adaptation, typically from
  ``init="random"`` (for the lattice per bond and per site: J ← J + α(b̄_d − b̄), h ← h + α(m̄_d − m̄)).
  Its history shows how α changes convergence; too large an α diverges.

Sample size and the model's moments
-----------------------------------
Each iteration runs T/10 sweeps of burn-in (one sweep = N update attempts per chain), then
records T sweeps of every chain.  The pairwise moments are Rao–Blackwellised
(:func:`rao_blackwell_sums`: tanh fᵢ and sⱼ tanh fᵢ instead of sᵢ and sᵢsⱼ), unbiased and much
less noisy for sparse data.  T starts where the kept states suffice for the Fisher products and
grows to the length whose noise meets ``check_noise`` (noise ∝ 1/√T) once the largest moment
difference no longer stands out of the sampling noise (max |z| ≤ max(tol, 2·√(2 ln 2n)·noise)),
and beyond it (doubling) only while the sample cannot resolve the error left (systematic
s ≤ 4·noise²), so the chains stay short while the fit is far off and grow as it closes in
(``max_sweeps`` caps T); while the sample resolves the error, better steps, not longer chains,
are what the fit needs.  The learner's products run on one BLAS
thread (they are small; waiting BLAS threads stall them on a busy host).

Units that never or always fire are decoupled (Jᵢⱼ = 0, as in pseudo-likelihood: with sᵢ ≡ ∓1
a coupling is only a field on j) and their field is held at the penalised optimum of the single
unit; their moments are not tested.

Near a phase boundary
---------------------
Real neural populations sit near a phase boundary, where the maximum-likelihood model can have a
metastable high-activity state.  Four safeguards keep learning on track there:

* **A checked start.**  A pseudo-likelihood, mean-field or TAP start is sampled briefly (200
  chains from data states, 40 sweeps); if more than 5 % of its states have more units up than any
  data state (it runs away), the same estimate damped, couplings × ½ with the mean local fields
  kept (hᵢ + ½ Σⱼ Jᵢⱼ⟨sⱼ⟩_d), is tried, then independent spins.  ``info["init"]`` says which.
* **Step control.**  A step after which the errors grow beyond noise (s > 2·msz_a + 2n + 1, msz_a
  the mean square z measured where the step started) is taken back: the parameters return to
  that point and so do the chains' states, the step is halved, and the trust region with it; the
  trust region then regrows past the length that failed by only 10 % per accepted step (it
  regrows by 50 % below it).  The last accepted point is kept,
  and returned when the final measurement is worse.
* **Replica exchange when chains run away.**  The chains start from data rows and persist.  When
  more than 0.1 % of the recorded states have more units up than any data state, or when steps
  shortened a thousandfold still make the errors grow, every chain gets copies at higher
  temperatures (:class:`inverse_ising.tempering.TemperedChains`, temperatures placed
  adaptively) that carry it across the barrier, so the moments are those of the model and not of
  the basin a chain fell into.  ``history["temperatures"]`` records the ladder's length.
* **A stopping rule at the data's noise level** (below), which does not spend the run driving the
  model sample's own noise far below the data's.

Convergence
-----------
For every moment k, zₖ = gₖ / SEₖ with gₖ the penalised gradient component (the moment
difference, data − model) and SEₖ the data's standard error √(Var(φₖ)/M) (i.i.d. samples).  The
pairwise model is judged on both the plain moments ⟨sᵢ⟩, ⟨sᵢsⱼ⟩ and the centred pair statistics
⟨(sᵢ−cᵢ)(sⱼ−cⱼ)⟩ (for sparse data the plain ⟨sᵢsⱼ⟩ hardly see coincident spikes; the centred ones
do).  The model's errors SE_model,k come from the spread of the moments between 20 groups of
independent chains (batch means, so autocorrelation is accounted for); rₖ = SE_model,k / SEₖ,
noise = rms rₖ and n = mean rₖ².  The systematic error is s = msz − n, the larger of its values
for the plain and the centred moments (msz their mean square z: a model as far from the data as
a new data set of the same size would be has msz ≈ 1, the maximum of the likelihood 0).  The fit has converged when

    noise ≤ check_noise (default 0.5: the model sample is worth at least 4 data sets),
    s ≤ 0.1·tol² (the systematic error is a tenth of the data's own noise)  and
    max |zₖ| ≤ √(tol² + 2 ln(2n_moments)·noise²) (tol, default 1, beyond the largest of the
    sample's own noise values),

judged on a fresh sample drawn at the current parameters, which are then returned unchanged.

Divergence
----------
:class:`inverse_ising.errors.FitDivergedError` is raised, with a message that names the case and
what to change, for data with no finite maximum-likelihood model (the parameters grow past
``param_limit``, default 30, while the errors do not), for non-finite moments or parameters, and
when the errors grow even after steps shortened a thousandfold with replica exchange (the chains
cannot follow the model).

Checkpoints
-----------
With ``checkpoint=path`` the whole state after the last completed iteration (parameters,
optimiser state, chain states, schedule, history, the seed's entropy) is written atomically

* once ``checkpoint_seconds`` (default 60) of wall time have passed since the last write (0:
  after every iteration), so a killed run loses at most about a minute;
* after every ``checkpoint_every``-th iteration, when given (default None: by time only), for
  checkpoints at iterations that do not depend on the machine's speed;
* on ``KeyboardInterrupt`` (Ctrl-C; the command line also turns SIGTERM into one): the state
  after the last completed iteration (or the starting state, before the first one is done) is
  written, then the interrupt is re-raised;
* when the iterations end, so that an interrupt while the result is finished leaves a
  checkpoint too (resuming it repeats the final measurement).

``resume=True`` continues from the file.  Each iteration draws its random numbers from its own
child of the seed's SeedSequence, so a resumed run follows the same trajectory as an
uninterrupted one, bit for bit (same backend and number of ranks).  Under MPI the root process
writes; the chains' states are gathered to it after every iteration, so an interrupt needs no
communication.

Seeds
-----
``seed=None`` draws fresh entropy (``numpy.random.SeedSequence()``, 128 bits, the root's on
every process); the result records the entropy used as ``info["seed"]`` and ``seed=`` that
integer repeats the run bit for bit.
"""
import functools
import hashlib
import json
import math
import os
import time
import warnings

import numpy as np

from . import __version__
from .backend import check_rule, get_backend, seed_sequence
from .blas import blas_threads
from .errors import FitDivergedError, InputError
from .io import atomic_write
from .models import LatticeIsing, PairwiseIsing
from .progress import progress_bar
from .sampling import Chains
from .stats import integrated_autocorrelation_time
from .tempering import TemperedChains
from .validation import as_positive_int, as_scalar

OPTIMIZERS = ("natural", "adam", "sgd")
DEFAULT_LEARNING_RATE = {"natural": 1.0, "adam": 0.02, "sgd": 0.1}
N_GROUPS = 20  # groups of chains for batch-mean errors of the model's moments
ETA_MIN = 0.1  # smallest noise gain of natural / Adam steps
TRUST_MAX = 0.5  # largest max |δθ| of a natural step
TRUST_MIN = 1e-3  # a natural step shortened below this has failed
SIGNAL_TOL = 0.1  # converged: the systematic mean square z at most this × tol² (a tenth of the data's noise)
RUNAWAY = 1e-3  # chains run away: more than this fraction of model states above the data's largest K
START_RUNAWAY = 0.05  # a starting point runs away: this fraction of its sampled states above it
START_DAMPING = 0.5  # couplings of a damped start: this times the estimate's
CHECKPOINT_FORMAT = 2


# =============================================================================================
# Small helpers
# =============================================================================================

def _one_blas_thread(func):
    """Run ``func`` with one BLAS thread: the learner's products are small, and BLAS threads that
    wait for a core another process holds stall every product (many times slower on a busy host)."""
    @functools.wraps(func)
    def single_threaded(*args, **kwargs):
        with blas_threads(1):
            return func(*args, **kwargs)
    return single_threaded


def _child(root, k):
    """The k-th child of SeedSequence ``root`` (what ``root.spawn`` would give as child k)."""
    return np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (int(k),))


def _fingerprint(*arrays):
    digest = hashlib.sha1()
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(str(a.shape).encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def _float(x):
    return float(x) if np.isfinite(x) else float("nan")


class _Adam:
    """Adam (Kingma & Ba 2015) for gradient *ascent*: θ ← θ + lr · m̂ / (√v̂ + ε)."""

    def __init__(self, size):
        self.m = np.zeros(size)
        self.v = np.zeros(size)
        self.t = 0

    def step(self, g, lr, b1=0.9, b2=0.999, eps=1e-8):
        self.t += 1
        self.m = b1 * self.m + (1 - b1) * g
        self.v = b2 * self.v + (1 - b2) * g * g
        m_hat = self.m / (1 - b1 ** self.t)
        v_hat = self.v / (1 - b2 ** self.t)
        return lr * m_hat / (np.sqrt(v_hat) + eps)

    def state(self):
        return {"adam_m": self.m, "adam_v": self.v, "adam_t": np.array(self.t)}

    def load(self, arrays):
        self.m, self.v, self.t = np.array(arrays["adam_m"]), np.array(arrays["adam_v"]), int(arrays["adam_t"])


def _chain_offsets(backend, n_local):
    """Offset of this process's chains among all chains (rank order), and the total."""
    counts = np.zeros(max(1, backend.size))
    counts[backend.rank] = n_local
    counts = backend.allreduce_sum(counts)
    return int(counts[:backend.rank].sum()), int(counts.sum())


# =============================================================================================
# Pairwise model: data targets and model measurements
# =============================================================================================

def centred_variances(mean, second, c, floor=0.0):
    """Variances of the centred statistics sᵢ − cᵢ and (sᵢ − cᵢ)(sⱼ − cⱼ) under a distribution
    with moments mᵢ = ⟨sᵢ⟩ (``mean``) and ⟨sᵢsⱼ⟩ (``second``).

    They need nothing more, because s² = 1.  With uᵢ = sᵢ − mᵢ, Cᵢⱼ = ⟨uᵢuⱼ⟩ and dᵢ = mᵢ − cᵢ,
    uᵢ² = (1 − mᵢ²) − 2mᵢuᵢ gives

        Var(sᵢ − cᵢ) = 1 − mᵢ²,
        Var((sᵢ−cᵢ)(sⱼ−cⱼ)) = (1−mᵢ²)(1−mⱼ²) + 4mᵢmⱼCᵢⱼ − Cᵢⱼ² + dⱼ²(1−mᵢ²) + dᵢ²(1−mⱼ²)
                              − 4(dⱼmᵢ + dᵢmⱼ)Cᵢⱼ + 2dᵢdⱼCᵢⱼ,

    written so that nothing cancels for sparse data (where every term is small).  Returns
    (vᵢ (N,), vᵢⱼ (N, N)), floored at ``floor``.
    """
    m = np.asarray(mean, dtype=float)
    C = np.asarray(second, dtype=float) - np.outer(m, m)
    w = 1.0 - m * m
    d = m - np.asarray(c, dtype=float)
    v = (np.outer(w, w) + 4 * np.outer(m, m) * C - C * C + np.outer(w, d * d) + np.outer(d * d, w)
         - 4 * (np.outer(m, d) + np.outer(d, m)) * C + 2 * np.outer(d, d) * C)
    return np.maximum(w, floor), np.maximum(v, floor)


class PairwiseTargets:
    """The data's moments and their standard errors, plain and centred (see module docstring).

    Plain statistics: sᵢ and sᵢsⱼ (i < j), standard errors √((1 − ⟨φ⟩²)/M).
    Centred statistics (c = data means): sᵢ − cᵢ and (sᵢ − cᵢ)(sⱼ − cⱼ), whose data variances
    vᵢ = 1 − cᵢ² and vᵢⱼ = E[(sᵢ−cᵢ)²(sⱼ−cⱼ)²] − Cᵢⱼ² follow from the first and second moments
    because (s − c)² = 1 + c² − 2cs.  Variances are floored at 2/M (a spin that never flips
    would otherwise have a zero error bar).
    """

    def __init__(self, spins):
        S = spins
        M, N = S.shape
        self.M, self.N = M, N
        self.iu = np.triu_indices(N, 1)
        mean = S.sum(axis=0, dtype=np.int64) / M
        second = np.zeros((N, N))
        for a in range(0, M, 1 << 16):  # float32 sums of ±1 over ≤ 2¹⁶ rows are exact
            block = S[a:a + (1 << 16)].astype(np.float32)
            second += (block.T @ block).astype(np.float64)
        second /= M
        np.fill_diagonal(second, 1.0)
        self.mean, self.second = mean, second
        self.k_max = int((S == 1).sum(axis=1).max())  # most units up in one data state
        self.c = mean.copy()
        floor = 2.0 / M
        c = self.c
        self.raw = np.concatenate([mean, second[self.iu]])
        self.se_raw = np.sqrt(np.maximum(1.0 - self.raw ** 2, floor) / M)
        conn = second - np.outer(mean, mean)
        self.floor = floor
        v_single, v_pair = centred_variances(mean, second, c, floor)
        self.v_single, self.v_pair = v_single, v_pair
        self.centred = np.concatenate([mean - c, conn[self.iu]])
        self.se_centred = np.sqrt(np.concatenate([v_single, v_pair[self.iu]]) / M)

    # -- coordinates -------------------------------------------------------------------------
    def centre_vectors(self, raw):
        """Centred moments from plain ones, row by row: (sᵢ − cᵢ), ⟨sᵢsⱼ⟩ − cᵢ⟨sⱼ⟩ − cⱼ⟨sᵢ⟩ + cᵢcⱼ."""
        N, (i, j), c = self.N, self.iu, self.c
        raw = np.atleast_2d(raw)
        m = raw[:, :N]
        pairs = raw[:, N:] - c[i] * m[:, j] - c[j] * m[:, i] + c[i] * c[j]
        return np.concatenate([m - c, pairs], axis=1)

    def to_centred_gradient(self, gh, gJ):
        """Aᵀg: the gradient in centred coordinates (a, J) from the plain one (h, J)."""
        G = gJ - np.outer(gh, self.c) - np.outer(self.c, gh)
        np.fill_diagonal(G, 0.0)
        return gh, G

    def from_centred_step(self, da, dJ):
        """Aδ: the step in (h, J) of a step (δa, δJ) in centred coordinates (h = a − Jc)."""
        return da - dJ @ self.c, dJ


def _sym(vec_pairs, N, iu):
    A = np.zeros((N, N))
    A[iu] = vec_pairs
    return A + A.T


class _PairwiseSample:
    """Statistics of one measurement: model moments per group of chains and stored states."""

    def __init__(self, targets, counts, sums_s, sums_ss, states, n_states_total, runaway):
        self.runaway = runaway  # fraction of recorded states with more units up than any data state
        iu = targets.iu
        ok = counts > 0
        counts, sums_s, sums_ss = counts[ok], sums_s[ok], sums_ss[ok]
        total = counts.sum()
        self.n_states = int(total)
        mean = sums_s.sum(axis=0) / total
        second = sums_ss.sum(axis=0) / total
        np.fill_diagonal(second, 1.0)
        self.mean, self.second = mean, second
        raw = np.concatenate([mean, second[iu]])
        group_raw = np.concatenate([sums_s / counts[:, None], (sums_ss / counts[:, None, None])[:, iu[0], iu[1]]], axis=1)
        G = group_raw.shape[0]
        self.raw = raw
        self.centred = targets.centre_vectors(raw)[0]
        group_centred = targets.centre_vectors(group_raw)
        if G > 1:
            self.se_raw = group_raw.std(axis=0, ddof=1) / math.sqrt(G)
            self.se_centred = group_centred.std(axis=0, ddof=1) / math.sqrt(G)
        else:
            self.se_raw = np.full(raw.shape, np.inf)
            self.se_centred = np.full(raw.shape, np.inf)
        self.states = states  # this process's float32 (K_local, N) states for Fisher products
        self.n_states_kept = n_states_total


def rao_blackwell_sums(S, h, J):
    """Σ over states of the conditional expectations E[sᵢ | s₋ᵢ] = tanh fᵢ and
    E[sᵢsⱼ | s₋ᵢ] = sⱼ tanh fᵢ (symmetrised), fᵢ = hᵢ + Σⱼ Jᵢⱼsⱼ.

    Unbiased estimators of ⟨sᵢ⟩ and ⟨sᵢsⱼ⟩ (Rao–Blackwell) with much smaller variance than the
    spins themselves, above all for sparse data, where a rare coincidence is replaced by its
    conditional probability.  ``S``: (K, N) spins.  Returns (Σ tanh f (N,), Σ ½(T ᵀS + SᵀT) (N, N)),
    diagonal K, in float64.  The products run in float32 (the spins are exact, and a relative
    rounding of 10⁻⁷ per state is far below any sampling error), five times faster than float64.
    """
    Sf = S.astype(np.float32)
    T = np.tanh(Sf @ J.astype(np.float32) + h.astype(np.float32))
    cross = (T.T @ Sf).astype(np.float64)
    pair = 0.5 * (cross + cross.T)
    np.fill_diagonal(pair, S.shape[0])
    return T.sum(axis=0, dtype=np.float64), pair


def _measure_pairwise(chains, targets, n_sweeps, burn, keep_states, n_groups=N_GROUPS, block=8):
    """Run ``burn`` + ``n_sweeps`` sweeps; model moments per group of chains (all processes).

    The chains of this process are split into ``n_groups`` contiguous groups (the same number on
    every process, so that group g of all processes together is one set of independent chains);
    each group's Rao–Blackwellised sums over the recorded sweeps (:func:`rao_blackwell_sums`)
    give its mean moments, and the spread of the group means gives the error of their average
    (batch means over independent chains, so autocorrelation is accounted for).
    About ``keep_states`` states (over all processes), spread evenly over the recorded sweeps,
    are kept for Fisher-vector products.  Recorded states with more units up than any data state
    (K > ``targets.k_max``) are counted: chains that ran away to a state the data never visit.
    """
    backend = chains.backend
    model = chains.model
    N = targets.N
    n_local, n_total = chains.n_local, chains.n_chains
    bounds = np.linspace(0, n_local, n_groups + 1).round().astype(int)
    counts = np.zeros(n_groups)
    sums_s = np.zeros((n_groups, N))
    sums_ss = np.zeros((n_groups, N, N))
    if burn:
        chains.sweep(burn)
    keep_sweeps = min(n_sweeps, math.ceil(keep_states / n_total)) if keep_states else 0
    keep_every = max(1, n_sweeps // keep_sweeps) if keep_sweeps else 0
    keep_chains = min(n_local, math.ceil(keep_states * n_local / n_total)) if keep_states else 0
    kept = []
    buffer = np.empty((n_local, min(block, n_sweeps), N), dtype=np.int8)  # chain-major: groups are slices
    filled = 0
    above = 0
    for t in range(n_sweeps):
        chains.sweep(1)
        buffer[:, filled] = chains.spins
        above += np.count_nonzero((chains.spins == 1).sum(axis=1) > targets.k_max)
        filled += 1
        if keep_sweeps and t % keep_every == 0 and len(kept) < keep_sweeps:
            kept.append(chains.spins[:keep_chains].astype(np.float32))
        if filled == buffer.shape[1] or t == n_sweeps - 1:
            for g in range(n_groups):
                a, b = bounds[g], bounds[g + 1]
                if b > a:
                    s, ss = rao_blackwell_sums(buffer[a:b, :filled].reshape(-1, N), model.h, model.J)
                    counts[g] += filled * (b - a)
                    sums_s[g] += s
                    sums_ss[g] += ss
            filled = 0
    packed = backend.allreduce_sum(np.concatenate([[above], counts, sums_s.ravel(), sums_ss.ravel()]))
    above, packed = packed[0], packed[1:]
    counts = packed[:n_groups]
    sums_s = packed[n_groups:n_groups + n_groups * N].reshape(n_groups, N)
    sums_ss = packed[n_groups + n_groups * N:].reshape(n_groups, N, N)
    states = np.concatenate(kept) if kept else np.zeros((0, N), dtype=np.float32)
    n_states = int(backend.allreduce_sum(np.array([float(states.shape[0])]))[0])
    return _PairwiseSample(targets, counts, sums_s, sums_ss, states, n_states, float(above / max(counts.sum(), 1)))


class _FisherProducts:
    """Fisher-vector products F v = Cov_model(φ, φ·v) from stored states (all processes).

    With u(s) = φ(s)·v = Σᵢ vᵢsᵢ + ½ sᵀVs:  (Fv)ᵢ = ⟨sᵢu⟩ − ⟨sᵢ⟩⟨u⟩, (Fv)ᵢⱼ = ⟨sᵢsⱼu⟩ − ⟨sᵢsⱼ⟩⟨u⟩.
    Each product is two (K × N) × (N × N) matrix products and one sum over processes.
    """

    def __init__(self, states, n_total, backend):
        self.S = states
        self.N = N = states.shape[1]
        self.n = max(1, n_total)
        self.backend = backend
        packed = backend.allreduce_sum(np.concatenate([
            states.sum(axis=0, dtype=np.float64), (states.T @ states).astype(np.float64).ravel()]))
        self.e_s = packed[:N] / self.n
        self.e_ss = packed[N:].reshape(N, N) / self.n

    def __call__(self, vh, vJ):
        S, N = self.S, self.N
        u = S @ vh.astype(np.float32) + 0.5 * np.einsum("ki,ki->k", S @ vJ.astype(np.float32), S)
        s_u = S.T @ u
        ss_u = (S.T * u) @ S
        packed = self.backend.allreduce_sum(np.concatenate([
            [u.sum(dtype=np.float64)], s_u.astype(np.float64), ss_u.astype(np.float64).ravel()]))
        mu_u = packed[0] / self.n
        fh = packed[1:N + 1] / self.n - self.e_s * mu_u
        fJ = packed[N + 1:].reshape(N, N) / self.n - self.e_ss * mu_u
        np.fill_diagonal(fJ, 0.0)
        return fh, fJ


def _natural_direction(targets, gh, gJ, fisher, l2, cg_iter, model_var=None, mask=None, damping=0.3):
    """Approximately solve (F + 2 l2 + λD) δ = g by preconditioned CG in centred coordinates.

    g is the penalised gradient in centred coordinates (a, J), hᵢ = aᵢ − Σⱼ Jᵢⱼcⱼ.
    D (``model_var``) holds the model's variances of the centred statistics, i.e. the diagonal of
    the Fisher information F_c, computed exactly from the chains' (Rao–Blackwellised) moments by
    :func:`centred_variances`; it is the preconditioner and the Levenberg–Marquardt damping λD
    (λ = 0.3 keeps the step out of directions the sampled F cannot resolve).  The Fisher-vector
    products come from the stored states, with their diagonal raised to D where it falls short:
    a pair that fires together a few times in the data has a curvature that a few thousand
    stored states cannot estimate, but the chains' moments give it exactly.  ``mask`` (boolean
    (N,), (N, N)) confines the step to the free parameters.  Returns the centred step (δa, δJ);
    the plain one is δh = δa − δJ c.
    """
    N = targets.N
    Da, DJ = model_var if model_var is not None else (targets.v_single, targets.v_pair)
    Da = Da + 2 * l2
    DJ = DJ + 2 * l2
    np.fill_diagonal(DJ, 1.0)
    ra, rJ = targets.to_centred_gradient(gh, gJ)
    if mask is not None:
        ra, rJ = ra * mask[0], rJ * mask[1]
    if fisher is not None and cg_iter > 0:
        fa, fJ = centred_variances(fisher.e_s, fisher.e_ss, targets.c)  # the states' own diagonal
        # raise (never lower: that could make the matrix indefinite) the sampled diagonal to D
        corr_a = np.maximum(Da - 2 * l2 - fa, 0.0) + 2 * l2 + damping * Da
        corr_J = np.maximum(DJ - 2 * l2 - fJ, 0.0) + 2 * l2 + damping * DJ
    xa, xJ = np.zeros(N), np.zeros((N, N))
    za, zJ = ra / Da, rJ / DJ
    pa, pJ = za.copy(), zJ.copy()
    rz = ra @ za + 0.5 * np.sum(rJ * zJ)
    rz0 = rz
    for _ in range(cg_iter if fisher is not None else 0):
        ph, pJp = targets.from_centred_step(pa, pJ)
        fh, fJ_ = fisher(ph, pJp)
        qa, qJ = targets.to_centred_gradient(fh, fJ_)
        qa = qa + corr_a * pa
        qJ = qJ + corr_J * pJ
        np.fill_diagonal(qJ, 0.0)
        if mask is not None:
            qa, qJ = qa * mask[0], qJ * mask[1]
        pq = pa @ qa + 0.5 * np.sum(pJ * qJ)
        if not np.isfinite(pq) or pq <= 0:
            break
        alpha = rz / pq
        xa += alpha * pa
        xJ += alpha * pJ
        ra -= alpha * qa
        rJ -= alpha * qJ
        za, zJ = ra / Da, rJ / DJ
        rz_new = ra @ za + 0.5 * np.sum(rJ * zJ)
        if rz_new <= 1e-6 * rz0:
            break
        pa = za + (rz_new / rz) * pa
        pJ = zJ + (rz_new / rz) * pJ
        rz = rz_new
    if not np.any(xa) and not np.any(xJ):  # no usable curvature: the scaled gradient
        xa, xJ = ra / ((1 + damping) * Da), rJ / ((1 + damping) * DJ)
    np.fill_diagonal(xJ, 0.0)
    return xa, xJ


class _Measurement:
    """What one iteration learned about the current parameters (see the module docstring)."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    @property
    def signal(self):
        """s = max(msz − n, 0): the squared moment error that the sample resolves beyond its noise
        (for the pairwise model, on the centred statistics, in whose coordinates the steps are)."""
        return max(self.msz_gain - self.noise_gain, 0.0)

    @property
    def systematic(self):
        """The systematic mean square z that the stopping rule tests: the larger of the signals
        of the plain and (pairwise) centred moments, each msz less the sample's own mean r²."""
        return max(self.signal, self.msz - self.noise_raw)


class _PairwiseProblem:
    """The pairwise model's parameters, gradient, natural step and standard errors."""

    kind = "pairwise"

    def __init__(self, spins, h, J, l2, l1, cg_iter, keep_states, track_likelihood, fisher_limit,
                 hold_constant=True):
        self.spins = spins
        self.targets = PairwiseTargets(spins)
        self.N = N = spins.shape[1]
        self.iu = self.targets.iu
        self.h = np.array(h, dtype=float)
        self.J = np.array(J, dtype=float)
        self.l2, self.l1 = l2, l1
        self.cg_iter = cg_iter
        self.n_params = N + N * (N - 1) // 2
        self.keep_states = keep_states if keep_states is not None else int(min(20000, max(2000, 10 * self.n_params)))
        self.track_likelihood = track_likelihood
        self.fisher_limit = fisher_limit
        # Units that never (always) fire: their couplings are not identifiable (sᵢ ≡ ∓1 makes Jᵢⱼ
        # a field on j), so they are decoupled, Jᵢⱼ = 0, as in pseudo-likelihood, and their field
        # is the penalised optimum of the single unit, ±1 − tanh hᵢ − 2 l2 hᵢ = 0.
        never, always = _constant_units(spins) if hold_constant else (np.zeros(0, int), np.zeros(0, int))
        self.constant = np.concatenate([never, always]).astype(int)
        self.free_h = np.ones(N, dtype=bool)
        self.free_J = ~np.eye(N, dtype=bool)
        self.h_fixed = np.zeros(N)
        if self.constant.size:
            if l2 <= 0:
                raise InputError(f"units {_describe(self.constant)} never or always fire: their fields are "
                                 f"infinite without a penalty; pass l2 > 0 (the default is 1/M)")
            self.free_h[self.constant] = False
            self.free_J[self.constant, :] = False
            self.free_J[:, self.constant] = False
            for i in never:
                self.h_fixed[i] = _penalised_constant_field(-1.0, l2)
            for i in always:
                self.h_fixed[i] = _penalised_constant_field(1.0, l2)
        self.free_flat = np.concatenate([self.free_h, self.free_J[self.iu]])

    def enforce(self):
        """Hold the parameters of constant units at their fixed values."""
        if self.constant.size:
            self.h = np.where(self.free_h, self.h, self.h_fixed)
            self.J = np.where(self.free_J, self.J, 0.0)

    # -- parameters --------------------------------------------------------------------------
    def theta(self):
        return np.concatenate([self.h, self.J[self.iu]])

    def set_theta(self, theta):
        self.h = np.array(theta[:self.N], dtype=float)
        self.J = _sym(theta[self.N:], self.N, self.iu)

    def model(self):
        return PairwiseIsing(self.h, self.J)

    def apply_step(self, dh, dJ):
        """θ ← θ + δ.  With L1 the step is orthant-wise (as in OWL-QN): a coupling at zero moves
        only in the direction of its pseudo-gradient (not at all when |Δ| ≤ l1), and a coupling
        that would cross zero stops at zero."""
        J_old = self.J
        self.h = self.h + dh
        J_new = J_old + dJ
        if self.l1 > 0:
            pg = self._pseudo_gradient_J
            at_zero = J_old == 0
            wrong_way = at_zero & (np.sign(dJ) != np.sign(pg))
            crossed = ~at_zero & (np.sign(J_new) != np.sign(J_old))
            J_new[wrong_way | crossed] = 0.0
        np.fill_diagonal(J_new, 0.0)
        self.J = 0.5 * (J_new + J_new.T)
        self.enforce()

    # -- measurement -------------------------------------------------------------------------
    def measure(self, chains, n_sweeps, burn):
        t = self.targets
        smp = _measure_pairwise(chains, t, n_sweeps, burn, self.keep_states)
        dh = t.mean - smp.mean
        dJ = t.second - smp.second
        np.fill_diagonal(dJ, 0.0)
        gh = dh - 2 * self.l2 * self.h
        gJ = dJ - 2 * self.l2 * self.J
        if self.l1 > 0:
            nz = self.J != 0
            gJ = np.where(nz, gJ - self.l1 * np.sign(self.J), np.sign(gJ) * np.maximum(np.abs(gJ) - self.l1, 0.0))
        np.fill_diagonal(gJ, 0.0)
        self._pseudo_gradient_J = gJ
        g_raw = np.concatenate([gh, gJ[self.iu]])
        ga, gJc = t.to_centred_gradient(gh, gJ)
        g_c = np.concatenate([ga, gJc[self.iu]])
        z_raw, z_c = g_raw / t.se_raw, g_c / t.se_centred
        r_raw, r_c = smp.se_raw / t.se_raw, smp.se_centred / t.se_centred
        # moments of units that never/always fire are not tested: their parameters are held
        # (see __init__), and those moments are fixed by the other units' means
        k = self.free_flat
        zr, zc, rr, rc = z_raw[k], z_c[k], r_raw[k], r_c[k]
        r2 = np.concatenate([rr, rc]) ** 2
        finite = bool(np.all(np.isfinite(smp.raw)))
        ll = float("nan")
        if self.track_likelihood and finite:
            from .exact import log_likelihood

            ll = log_likelihood(self.model(), self.spins)
        return _Measurement(
            sample=smp, gh=gh, gJ=gJ, g_flat=g_raw, z_raw=z_raw, z_centred=z_c, r_centred=r_c,
            max_z_raw=float(np.max(np.abs(zr))), max_z_centred=float(np.max(np.abs(zc))),
            max_z=float(max(np.max(np.abs(zr)), np.max(np.abs(zc)))),
            msz=float(np.mean(zr ** 2)), msz_centred=float(np.mean(zc ** 2)),
            msz_gain=float(np.mean(zc ** 2)), noise_gain=float(np.mean(rc ** 2)), noise_raw=float(np.mean(rr ** 2)),
            noise=float(np.sqrt(np.mean(r2))) if np.all(np.isfinite(r2)) else float("inf"),
            n_moments=zr.size + zc.size, n_states=smp.n_states, finite=finite, log_likelihood=ll,
            runaway=smp.runaway, extra={},
        )

    # -- steps -------------------------------------------------------------------------------
    def natural_step(self, meas, backend, lr, trust):
        """The natural step times ``lr``, scaled down so that max(|δa|, |δJ|) ≤ ``trust``."""
        smp = meas.sample
        fisher, cg = None, 0
        if smp.n_states_kept > 0 and self.cg_iter > 0:
            fisher, cg = _FisherProducts(smp.states, smp.n_states_kept, backend), self.cg_iter
        t = self.targets
        model_var = centred_variances(smp.mean, smp.second, t.c, t.floor)
        mask = (self.free_h, self.free_J) if self.constant.size else None
        da, dJ = _natural_direction(t, meas.gh, meas.gJ, fisher, self.l2, cg, model_var, mask)
        biggest = max(float(np.max(np.abs(da))), float(np.max(np.abs(dJ))))
        factor = lr * min(1.0, trust / biggest) if biggest > 0 else 0.0
        return self.targets.from_centred_step(factor * da, factor * dJ)

    def flat_gradient(self, meas):
        """∇ℓ as a vector (h, J_{i<j}) for Adam and SGD (zero for the held parameters)."""
        return meas.g_flat * self.free_flat

    def split(self, flat):
        return flat[:self.N], _sym(flat[self.N:], self.N, self.iu)

    # -- standard errors ---------------------------------------------------------------------
    def standard_errors(self, meas, backend):
        """Standard errors of (h, J) from the inverse Fisher information, Cov = (F + 2 l2)⁻¹F(F + 2 l2)⁻¹/M.

        F is the model's covariance of φ = (sᵢ, sᵢsⱼ), computed from the chains' states when
        there are at most ``fisher_limit`` parameters; otherwise the centred-diagonal
        approximation Var(aᵢ) = 1/(M vᵢ), Var(Jᵢⱼ) = 1/(M vᵢⱼ), Var(hᵢ) = Var(aᵢ) + Σⱼ cⱼ² Var(Jᵢⱼ)
        (exact for independent spins).
        """
        t, N, M, iu, l2 = self.targets, self.N, self.targets.M, self.iu, self.l2
        smp = meas.sample
        P = self.n_params
        if P <= self.fisher_limit and smp.n_states_kept >= 2 * P:
            S = smp.states
            feats = np.concatenate([S, (S[:, iu[0]] * S[:, iu[1]])], axis=1) if S.shape[0] else np.zeros((0, P), np.float32)
            packed = backend.allreduce_sum(np.concatenate([
                feats.sum(axis=0, dtype=np.float64), (feats.T @ feats).astype(np.float64).ravel()]))
            n = smp.n_states_kept
            mu = packed[:P] / n
            F = packed[P:].reshape(P, P) / n - np.outer(mu, mu)
            A = F + 2 * l2 * np.eye(P)
            try:
                Ainv = np.linalg.inv(A + 1e-10 * np.trace(A) / P * np.eye(P))
                cov = Ainv @ F @ Ainv / M
                var = np.clip(np.diag(cov), 0.0, None)
                method = f"inverse Fisher information from {n} model states"
            except np.linalg.LinAlgError:
                var = None
            if var is not None:
                return {"h": var[:N] ** 0.5, "J": _sym(var[N:] ** 0.5, N, iu), "method": method}
        var_a = 1.0 / (M * (t.v_single + 2 * l2))
        vJ = 1.0 / (M * (t.v_pair + 2 * l2))
        np.fill_diagonal(vJ, 0.0)
        var_h = var_a + vJ @ (t.c ** 2)
        return {"h": np.sqrt(var_h), "J": np.sqrt(vJ),
                "method": "centred-diagonal approximation of the inverse Fisher information"}


def _lattice_statistics(grids, periodic):
    """(B, S) per configuration: bond sum Σ_⟨ij⟩ sᵢsⱼ and magnetisation sum Σᵢ sᵢ, int64."""
    g = grids
    if periodic:
        B = (g * np.roll(g, -1, axis=1)).sum(axis=(1, 2), dtype=np.int64) + \
            (g * np.roll(g, -1, axis=2)).sum(axis=(1, 2), dtype=np.int64)
    else:
        B = (g[:, :-1, :] * g[:, 1:, :]).sum(axis=(1, 2), dtype=np.int64) + \
            (g[:, :, :-1] * g[:, :, 1:]).sum(axis=(1, 2), dtype=np.int64)
    return B, g.sum(axis=(1, 2), dtype=np.int64)


class _LatticeProblem:
    """The lattice model's two parameters (J, h), its 2 × 2 Newton step and standard errors.

    Per configuration the sufficient statistics are x = (B, S); the data give x̄_d over D
    configurations, the chains ⟨x⟩ and F = Cov(x).  The penalty, like
    :func:`inverse_ising.pseudolikelihood.lattice_pseudolikelihood`'s, is l2 (J² + h²) per site.
    """

    kind = "lattice"

    def __init__(self, grids, L, boundary, J, h, l2):
        self.L, self.boundary = L, boundary
        self.N = L * L
        self.n_bonds = 2 * L * L if boundary == "periodic" else 2 * L * (L - 1)
        B, S = _lattice_statistics(grids, boundary == "periodic")
        self.D = grids.shape[0]
        self.data_x = np.stack([B, S], axis=1).astype(float)
        self.data_mean = self.data_x.mean(axis=0)
        if self.D >= 20:
            self.data_tau = np.array([integrated_autocorrelation_time(self.data_x[:, k]) for k in range(2)])
        else:
            self.data_tau = np.full(2, 0.5)
        self.tau_factor = np.maximum(1.0, 2.0 * self.data_tau)
        self.J, self.h = float(J), float(h)
        self.l2 = l2
        self.l1 = 0.0
        self.n_params = 2
        self.keep_states = 0
        self.fisher_limit = 2

    def theta(self):
        return np.array([self.J, self.h])

    def set_theta(self, theta):
        self.J, self.h = float(theta[0]), float(theta[1])

    def model(self):
        return LatticeIsing(self.L, self.J, self.h, self.boundary)

    def apply_step(self, dJ, dh):
        self.J += float(dJ)
        self.h += float(dh)

    def measure(self, chains, n_sweeps, burn):
        backend = chains.backend
        L, periodic = self.L, self.boundary == "periodic"
        if burn:
            chains.sweep(burn)
        series = np.empty((chains.n_local, n_sweeps, 2))
        for t in range(n_sweeps):
            chains.sweep(1)
            B, S = _lattice_statistics(chains.spins.reshape(-1, L, L), periodic)
            series[:, t, 0], series[:, t, 1] = B, S
        gathered = backend.gather_rows(series.reshape(chains.n_local, -1))
        summary = None
        if gathered is not None:
            x = gathered.reshape(-1, n_sweeps, 2)
            C = x.shape[0]
            chain_means = x.mean(axis=1)
            mu = chain_means.mean(axis=0)
            se = chain_means.std(axis=0, ddof=1) / math.sqrt(C) if C > 1 else np.full(2, np.inf)
            flat = x.reshape(-1, 2)
            F = (flat - mu).T @ (flat - mu) / flat.shape[0]
            tau = [integrated_autocorrelation_time(x[:, :, k].T) for k in range(2)] if n_sweeps >= 4 else [float("nan")] * 2
            summary = {"mu": mu, "se": se, "F": F, "tau": np.array(tau), "n": int(flat.shape[0])}
        summary = backend.broadcast(summary)
        mu, se_m, F = summary["mu"], summary["se"], summary["F"]
        pen = 2 * self.l2 * self.N * self.theta()
        g = (self.data_mean - mu) - pen
        se_d = np.sqrt(np.maximum(np.diag(F), 1e-12) * self.tau_factor / self.D)
        z = g / se_d
        r = se_m / se_d
        finite = bool(np.all(np.isfinite(mu)) and np.all(np.isfinite(F)))
        return _Measurement(
            g=g, F=F, mu=mu, se_model=se_m, se_data=se_d, z=z, tau_model=summary["tau"],
            g_flat=np.array([g[0] / self.n_bonds, g[1] / self.N]),
            max_z=float(np.max(np.abs(z))), max_z_raw=float(np.max(np.abs(z))), max_z_centred=float("nan"),
            msz=float(np.mean(z ** 2)), msz_centred=float("nan"),
            msz_gain=float(np.mean(z ** 2)), noise_gain=float(np.mean(r ** 2)), noise_raw=float(np.mean(r ** 2)),
            noise=float(np.sqrt(np.mean(r ** 2))), n_moments=2, n_states=summary["n"], finite=finite,
            log_likelihood=float("nan"), runaway=0.0,
            extra={"J": self.J, "h": self.h, "z_bond": float(z[0]), "z_magnetisation": float(z[1]),
                   "bond_model": float(mu[0] / self.n_bonds), "magnetisation_model": float(mu[1] / self.N)},
        )

    def _precision(self, F):
        A = F + 2 * self.l2 * self.N * np.eye(2)
        A = A + 1e-9 * max(np.trace(A), 1e-12) * np.eye(2)
        return A

    def natural_step(self, meas, backend, lr, trust):
        """The Newton step times ``lr``, scaled down so that max(|δJ|, |δh|) ≤ ``trust``."""
        g = meas.g
        try:
            step = np.linalg.solve(self._precision(meas.F), g)
        except np.linalg.LinAlgError:
            step = g / np.maximum(np.diag(meas.F), 1e-12)
        biggest = float(np.max(np.abs(step)))
        step = step * (lr * min(1.0, trust / biggest) if biggest > 0 else 0.0)
        return step[0], step[1]

    def flat_gradient(self, meas):
        """Per bond and per site: (b̄_d − b̄_model, m̄_d − m̄_model), the course notes' rule."""
        return meas.g_flat

    def split(self, flat):
        return flat[0], flat[1]

    def standard_errors(self, meas, backend):
        """Standard errors of (J, h): statistical ⊕ Monte Carlo ⊕ distance to the optimum.

        * statistical: Cov = F⁻¹ (T F T) F⁻¹ / D, the inverse Fisher information per
          configuration over D configurations, T = diag(√max(1, 2τ_data)) for data whose
          configurations are correlated in the order given (τ from D ≥ 20 configurations);
        * Monte Carlo: F⁻¹ diag(SE_model²) F⁻¹, the error of the chains' ⟨B⟩, ⟨S⟩ (from the spread
          between independent chains, so autocorrelation is included);
        * the remaining distance to the maximum of the likelihood, (F⁻¹ g)².
        """
        F = meas.F
        try:
            Finv = np.linalg.inv(self._precision(F))
        except np.linalg.LinAlgError:
            nan = float("nan")
            return {"J": nan, "h": nan, "method": "singular Fisher information"}
        T = np.diag(np.sqrt(self.tau_factor))
        cov_stat = Finv @ (T @ F @ T) @ Finv / self.D
        cov_mc = Finv @ np.diag(meas.se_model ** 2) @ Finv
        resid = Finv @ meas.g
        var = np.diag(cov_stat) + np.diag(cov_mc) + resid ** 2
        se = np.sqrt(var)
        return {
            "J": float(se[0]), "h": float(se[1]),
            "J_statistical": float(np.sqrt(cov_stat[0, 0])), "h_statistical": float(np.sqrt(cov_stat[1, 1])),
            "J_monte_carlo": float(np.sqrt(cov_mc[0, 0])), "h_monte_carlo": float(np.sqrt(cov_mc[1, 1])),
            "J_residual": float(abs(resid[0])), "h_residual": float(abs(resid[1])),
            "cov": (cov_stat + cov_mc + np.outer(resid, resid)).tolist(),
            "data_tau": self.data_tau.tolist(), "model_tau": [float(x) for x in meas.tau_model],
            "method": "inverse Fisher information (model covariance of the bond and magnetisation sums "
                      "from the chains) + Monte Carlo error + distance to the optimum",
        }


# =============================================================================================
# The learning loop (shared by both models)
# =============================================================================================

HISTORY_KEYS = ("max_z", "max_z_raw", "max_z_centred", "msz", "msz_centred", "noise", "signal",
                "learning_rate", "trust", "sample_size", "sweeps", "step", "log_likelihood", "seconds",
                "runaway", "temperatures", "rejected", "systematic")


class _Options:
    """The learner's settings, checked once."""

    def __init__(self, optimizer, learning_rate, tol, check_noise, max_iter, max_sweeps, param_limit,
                 checkpoint, checkpoint_seconds, checkpoint_every, resume, force, progress, n_chains, rule,
                 backend):
        if optimizer not in OPTIMIZERS:
            raise InputError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        self.optimizer = optimizer
        lr = DEFAULT_LEARNING_RATE[optimizer] if learning_rate is None else as_scalar(learning_rate, "learning_rate")
        if lr <= 0:
            raise InputError(f"learning_rate must be positive, got {lr}")
        self.learning_rate = lr
        self.tol = as_scalar(tol, "tol")
        self.check_noise = as_scalar(check_noise, "check_noise")
        if self.tol <= 0 or self.check_noise <= 0:
            raise InputError(f"tol and check_noise must be positive, got {self.tol} and {self.check_noise}")
        self.max_iter = as_positive_int(max_iter, "max_iter")
        self.max_sweeps = as_positive_int(max_sweeps, "max_sweeps", minimum=2)
        self.param_limit = as_scalar(param_limit, "param_limit")
        self.checkpoint = None if checkpoint is None else os.fspath(checkpoint)
        self.checkpoint_seconds = as_scalar(checkpoint_seconds, "checkpoint_seconds")
        if self.checkpoint_seconds < 0:
            raise InputError(f"checkpoint_seconds must be >= 0, got {self.checkpoint_seconds}")
        self.checkpoint_every = None if checkpoint_every is None else as_positive_int(checkpoint_every,
                                                                                      "checkpoint_every")
        self.resume = bool(resume)
        self.force = bool(force)
        self.progress = progress
        self.n_chains = n_chains
        self.rule = check_rule(rule)
        self.backend = get_backend(backend)
        if self.resume and self.checkpoint is None:
            raise InputError("resume=True needs checkpoint=<path> (the file to resume from)")


def _learn(problem, chains, opts, root, fingerprint, start, desc):
    """Iterate measure → check → step until converged; see the module docstring.

    ``start`` is the state to begin from (a fresh one, or one read from a checkpoint).
    Returns a dict with the final measurement, history and diagnostics.  With a checkpoint file,
    the state after each completed iteration is kept and written when due and on
    KeyboardInterrupt (:class:`_Checkpoints`).
    """
    backend = chains.backend
    st = start
    adam = _Adam(problem.n_params)
    if "adam_m" in st["arrays"]:
        adam.load(st["arrays"])
    history = {k: list(v) for k, v in st["history"].items()}
    for k in HISTORY_KEYS:
        history.setdefault(k, [])
    t0 = time.perf_counter() - st["elapsed"]
    converged, meas = False, None
    opt = opts.optimizer
    accepted = st["accepted"]
    checkpoints = _Checkpoints(opts, problem, chains, st, adam, history, root, fingerprint, t0)
    with checkpoints, progress_bar(opts.max_iter, desc, opts.progress, backend, unit="iter") as bar:
        bar.update(st["t"])
        while st["t"] < opts.max_iter:
            t = st["t"]
            chains.reseed(backend.local_seed(_child(root, 2 + t)))
            chains.set_model(problem.model())
            T = st["T"]
            burn = max(1, T // 10)
            meas = problem.measure(chains, T, burn)
            tempered = isinstance(chains, TemperedChains)
            if tempered:
                chains.adapt()
                st["betas"] = chains.betas.tolist()
            if not meas.finite:
                raise FitDivergedError(_diverged_message(opts, t, "the model's moments are not finite (NaN)"))
            n, s = meas.noise_gain, meas.signal
            gain = min(1.0, max(ETA_MIN, s / (s + n))) if s + n > 0 else 1.0
            lr_eff = opts.learning_rate if opt == "sgd" else opts.learning_rate * gain
            record = {
                "max_z": meas.max_z, "max_z_raw": meas.max_z_raw, "max_z_centred": meas.max_z_centred,
                "msz": meas.msz, "msz_centred": meas.msz_centred, "noise": meas.noise, "signal": s,
                "systematic": meas.systematic,
                "learning_rate": lr_eff, "trust": st["trust"] if opt == "natural" else float("nan"),
                "sample_size": meas.n_states, "sweeps": T, "step": float("nan"),
                "log_likelihood": meas.log_likelihood, "seconds": time.perf_counter() - t0,
                "runaway": meas.runaway, "temperatures": len(chains.betas) if tempered else 1, "rejected": 0.0,
            }
            for k, v in meas.extra.items():
                history.setdefault(k, [])
                record[k] = v
            for k, v in record.items():
                history[k].append(v)
            bar.set_postfix_str(f"max|z|={meas.max_z:.3g} msz={meas.msz:.3g} noise={meas.noise:.2f} "
                                f"rate={lr_eff:.3g} K={meas.n_states}", refresh=False)
            if _converged(meas, opts):
                converged = True
                bar.update(1)
                break
            if t == opts.max_iter - 1:  # the last iteration only measures: the result is what was judged
                bar.update(1)
                break
            # -- chains that ran away to states the data never visit: replica exchange --------
            if meas.runaway > RUNAWAY and not tempered and problem.kind == "pairwise":
                chains = checkpoints.chains = TemperedChains(chains)
                st["betas"] = chains.betas.tolist()
                accepted = st["accepted"] = None  # measured without replica exchange: no reference
                st["t"] = t + 1
                bar.update(1)
                checkpoints.iteration_done()
                continue
            # -- step control: a step that made the errors grow is taken back and halved -------
            if opt != "sgd" and accepted is not None and _grew(meas, accepted["msz"]):
                history["rejected"][-1] = 1.0
                st["trust"] *= 0.5
                st["trust_cap"] = st["trust"]  # steps this long failed: regrow only slowly past it
                if st["trust"] < TRUST_MIN:
                    if problem.kind == "pairwise" and not tempered:  # the chains may not follow the model
                        problem.set_theta(accepted["theta"])
                        chains.restore(accepted["spins"])
                        chains = checkpoints.chains = TemperedChains(chains)
                        st["betas"] = chains.betas.tolist()
                        st["trust"] = TRUST_MAX / 4
                        accepted = st["accepted"] = None
                        st["t"] = t + 1
                        bar.update(1)
                        checkpoints.iteration_done()
                        continue
                    raise FitDivergedError(_diverged_message(
                        opts, t, "the moment errors grow even after every step was shortened a thousandfold"
                                 + (", with replica exchange" if tempered else "")))
                accepted["step"] = 0.5 * accepted["step"]
                problem.set_theta(accepted["theta"] + accepted["step"])
                problem.enforce()
                chains.restore(accepted["spins"])
            else:
                if opt == "natural":
                    st["trust_cap"] = min(1.1 * st["trust_cap"], TRUST_MAX)
                    st["trust"] = min(1.5 * st["trust"], st["trust_cap"])
                    d1, d2 = problem.natural_step(meas, backend, lr_eff, st["trust"])
                else:
                    g = problem.flat_gradient(meas)
                    flat = adam.step(g, lr_eff) if opt == "adam" else lr_eff * g
                    d1, d2 = problem.split(flat)
                before = problem.theta()
                accepted = st["accepted"] = {"theta": before, "spins": chains.snapshot(), "msz": meas.msz_gain,
                                             "meas": meas}
                problem.apply_step(d1, d2)
                accepted["step"] = problem.theta() - before
            history["step"][-1] = float(np.max(np.abs(accepted["step"]))) if accepted is not None else float("nan")
            theta = problem.theta()
            if not np.all(np.isfinite(theta)):
                raise FitDivergedError(_diverged_message(opts, t, "the parameters became NaN"))
            big = float(np.max(np.abs(theta)))
            if big > opts.param_limit:
                if opt == "natural":  # steps are controlled: the likelihood has no finite maximum
                    raise FitDivergedError(_no_finite_mle_message(opts, t, big))
                raise FitDivergedError(_diverged_message(
                    opts, t, f"the parameters exploded (max |θ| = {big:.3g} > param_limit = {opts.param_limit:g})"))
            # -- sample size ------------------------------------------------------------------
            # grow when the largest difference no longer stands out of the sampling noise (the
            # expected largest of n noise values is ≈ √(2 ln 2n) times their rms): to the length
            # whose noise meets check_noise (noise ∝ 1/√T) while it does not, else twice as long
            noise_max = math.sqrt(2 * math.log(2 * meas.n_moments)) * meas.noise
            if meas.noise > opts.check_noise and meas.max_z <= max(opts.tol, 2 * noise_max):
                needed = T * (meas.noise / (0.9 * opts.check_noise)) ** 2
                st["T"] = min(max(math.ceil(needed), math.ceil(1.25 * T)), opts.max_sweeps)
            elif meas.noise <= opts.check_noise and meas.systematic <= 4 * meas.noise ** 2:
                st["T"] = min(2 * T, opts.max_sweeps)  # the sample no longer resolves the error left
            st["t"] = t + 1
            bar.update(1)
            checkpoints.iteration_done()
    if not converged and accepted is not None and accepted["meas"] is not None and _grew(meas, accepted["msz"]):
        problem.set_theta(accepted["theta"])  # the last step made things worse: keep the better point
        problem.enforce()
        meas = accepted["meas"]
    st["elapsed"] = time.perf_counter() - t0
    return {"converged": converged, "measurement": meas, "history": history, "state": st, "chains": chains}


def _grew(meas, msz_before):
    """Whether the errors grew beyond noise since a point whose (centred) mean square z was
    ``msz_before``: s > 2·msz_before + 2n + 1, i.e. the systematic error more than doubled the
    whole error measured before (its noise included, so a noisy earlier measurement does not count
    as a small error) and grew by more than the data's own noise (msz = 1)."""
    return meas.signal > 2 * msz_before + 2 * meas.noise_gain + 1


def _converged(meas, opts):
    """The stopping rule (module docstring, Convergence): the model sample resolves the data's
    errors (noise ≤ check_noise), the systematic mean square z is at most SIGNAL_TOL·tol², and
    no moment is further from the data than tol beyond the sample's own noise,
    max |z| ≤ √(tol² + 2 ln(2n) · noise²)."""
    allowance = math.sqrt(opts.tol ** 2 + 2 * math.log(2 * meas.n_moments) * meas.noise ** 2)
    return meas.noise <= opts.check_noise and meas.systematic <= SIGNAL_TOL * opts.tol ** 2 and meas.max_z <= allowance


def _no_finite_mle_message(opts, t, big):
    return (f"Boltzmann learning diverged at iteration {t}: the parameters grow without bound (max |θ| = "
            f"{big:.3g} > param_limit = {opts.param_limit:g}) while the moment errors do not: the data have no "
            f"finite maximum-likelihood model (units that always or never fire together, or a perfectly "
            f"predictable unit). Use a larger l2 (e.g. 10/M) or remove such units.")


def _diverged_message(opts, t, what):
    head = f"Boltzmann learning diverged at iteration {t}: {what}. "
    if opts.optimizer == "sgd":
        return head + (f"The fixed learning rate {opts.learning_rate:g} is too large for these data: use a "
                       f"smaller learning_rate (e.g. {opts.learning_rate / 10:g}) or the default adaptive "
                       f"optimizer='natural'.")
    if opts.optimizer == "adam":
        return head + (f"Use a smaller learning_rate than {opts.learning_rate:g}, a larger l2, or "
                       f"optimizer='natural'.")
    return head + ("The chains cannot follow the model near these parameters: use more chains (n_chains), "
                   "the other update rule, or a larger l2 (e.g. 10/M).")


# -- checkpoints -----------------------------------------------------------------------------

class _Checkpoints:
    """The checkpoint schedule of one run of :func:`_learn` (a context manager around its loop).

    Without a checkpoint file it does nothing.  Otherwise it keeps the learner's whole state as
    of the start and after every completed iteration (:meth:`iteration_done`; the chain states
    gathered to the root), writes it atomically on the root when ``checkpoint_seconds`` have
    passed since the last write or the iteration is a multiple of ``checkpoint_every``, and
    writes the kept state, if not yet written, when the loop ends or a KeyboardInterrupt leaves
    it (which then goes on); so an interrupt while the result is being finished also leaves a
    checkpoint, from which the resumed run repeats the final measurement.  Other errors write
    nothing.  ``st``, ``adam`` and ``history`` are the loop's own objects, read at each snapshot.
    """

    def __init__(self, opts, problem, chains, st, adam, history, root, fingerprint, t0):
        self.opts, self.problem, self.chains, self.st = opts, problem, chains, st
        self.adam, self.history, self.root, self.fingerprint, self.t0 = adam, history, root, fingerprint, t0
        self.arrays = None
        self.written = True
        self.last_write = time.monotonic()

    def __enter__(self):
        if self.opts.checkpoint:
            self._snapshot()
        return self

    def iteration_done(self):
        opts = self.opts
        if not opts.checkpoint:
            return
        self._snapshot()
        every = opts.checkpoint_every
        if time.monotonic() - self.last_write >= opts.checkpoint_seconds or (every and self.st["t"] % every == 0):
            self._write()

    def __exit__(self, exc_type, exc, tb):
        if not self.written and (exc_type is None or issubclass(exc_type, KeyboardInterrupt)):
            self._write()
        return False

    def _snapshot(self):
        """Copy the state after the last completed iteration (``arrays``: None off the root)."""
        opts, problem, chains, st = self.opts, self.problem, self.chains, self.st
        backend = chains.backend
        spins = backend.gather_rows(chains.snapshot())
        accepted = st["accepted"]
        accepted_spins = backend.gather_rows(accepted["spins"]) if accepted is not None else None
        if not backend.is_root:
            return
        st["elapsed"] = time.perf_counter() - self.t0
        meta = {
            "format": CHECKPOINT_FORMAT, "package_version": __version__, "kind": problem.kind,
            "fingerprint": self.fingerprint, "entropy": str(self.root.entropy),
            "spawn_key": list(self.root.spawn_key), "t": st["t"], "T": st["T"], "trust": st["trust"],
            "trust_cap": st["trust_cap"], "betas": st["betas"], "accepted_msz": accepted["msz"] if accepted is not None else None,
            "elapsed": st["elapsed"], "optimizer": opts.optimizer, "learning_rate": opts.learning_rate,
            "rule": opts.rule, "n_chains": chains.n_chains,
        }
        arrays = {"theta": problem.theta(), "spins": np.array(spins), "meta": np.array(json.dumps(meta))}
        if accepted is not None:
            arrays.update({"accepted_theta": accepted["theta"], "accepted_step": accepted["step"],
                           "accepted_spins": np.array(accepted_spins)})
        arrays.update({k: np.array(v) for k, v in self.adam.state().items()})
        for k, v in self.history.items():
            arrays[f"history_{k}"] = np.asarray(v, dtype=float)
        self.arrays, self.written = arrays, False

    def _write(self):
        if self.arrays is not None:
            with atomic_write(self.opts.checkpoint, force=True) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, **self.arrays)
        self.written, self.last_write = True, time.monotonic()


def _read_checkpoint(opts, problem, fingerprint):
    path = opts.checkpoint
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(str(arrays.pop("meta")))
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"cannot resume: {path} is not a readable checkpoint ({exc})") from None
    if meta.get("format") != CHECKPOINT_FORMAT or meta.get("kind") != problem.kind:
        raise InputError(f"cannot resume: {path} is not a {problem.kind} Boltzmann-learning checkpoint")
    if meta["fingerprint"] != fingerprint:
        raise InputError(f"cannot resume: {path} was made with different data or a different model/penalty; "
                         f"start a new fit (or pass --force / force=True to overwrite it)")
    for key in ("optimizer", "rule", "n_chains"):
        mine = {"optimizer": opts.optimizer, "rule": opts.rule, "n_chains": opts.n_chains}[key]
        if meta[key] != mine:
            raise InputError(f"cannot resume: {path} was made with {key}={meta[key]!r}, not {mine!r}")
    if not math.isclose(meta["learning_rate"], opts.learning_rate):
        raise InputError(f"cannot resume: {path} was made with learning_rate={meta['learning_rate']!r}")
    history = {k[len("history_"):]: arrays.pop(k).tolist() for k in list(arrays) if k.startswith("history_")}
    root = np.random.SeedSequence(int(meta["entropy"]), spawn_key=tuple(meta["spawn_key"]))
    accepted = None
    if meta["accepted_msz"] is not None:
        accepted = {"theta": arrays.pop("accepted_theta"), "step": arrays.pop("accepted_step"),
                    "spins": arrays.pop("accepted_spins"), "msz": float(meta["accepted_msz"]), "meas": None}
    start = {
        "t": int(meta["t"]), "T": int(meta["T"]), "trust": float(meta["trust"]),
        "trust_cap": float(meta["trust_cap"]), "betas": meta["betas"],
        "accepted": accepted, "elapsed": float(meta["elapsed"]), "history": history, "arrays": arrays,
    }
    return root, start


def _fresh_state(T0=2):
    return {"t": 0, "T": int(T0), "trust": TRUST_MAX, "trust_cap": TRUST_MAX, "betas": None, "accepted": None,
            "elapsed": 0.0,
            "history": {}, "arrays": {}}


def _local_rows(chains, rows):
    """This process's slice (rank order) of chain rows saved from all processes."""
    offset, total = _chain_offsets(chains.backend, chains.n_local)
    if rows.shape[0] != total:
        raise InputError(f"cannot resume: the checkpoint holds {rows.shape[0]} chains, this run {total}")
    return rows[offset:offset + chains.n_local]


def _root_seed(seed, backend):
    """The run's root SeedSequence, the same on every process."""
    root = seed_sequence(seed)
    entropy = backend.broadcast(root.entropy)
    return np.random.SeedSequence(entropy, spawn_key=tuple(root.spawn_key))


def _prepare_run(problem, opts, root, data_states, n_chains, fingerprint, initialise):
    """Chains, seed root and starting state (fresh, or read from a checkpoint).

    ``initialise()`` sets the problem's starting parameters; it is called only for a fresh run.
    """
    if opts.checkpoint and os.path.exists(opts.checkpoint):
        if opts.resume:
            root, start = _read_checkpoint(opts, problem, fingerprint)
            problem.set_theta(start["arrays"].pop("theta"))
            chains = Chains(problem.model(), n_chains, opts.rule, opts.backend, _child(root, 0), init=data_states)
            if start["betas"] is not None:
                chains = TemperedChains(chains, betas=start["betas"])
            chains.restore(_local_rows(chains, start["arrays"].pop("spins")))
            if start["accepted"] is not None:
                start["accepted"]["spins"] = _local_rows(chains, start["accepted"]["spins"])
            return chains, root, start
        if not opts.force:
            raise InputError(f"checkpoint {opts.checkpoint} already exists (from an earlier run): pass "
                             f"resume=True (--resume) to continue it or force=True (--force) to start over")
    elif opts.resume:
        warnings.warn(f"no checkpoint at {opts.checkpoint}: starting a new fit", RuntimeWarning, stacklevel=3)
    initialise()
    chains = Chains(problem.model(), n_chains, opts.rule, opts.backend, _child(root, 0), init=data_states)
    T0 = max(2, math.ceil(problem.keep_states / chains.n_chains)) if problem.keep_states else 2
    return chains, root, _fresh_state(min(T0, opts.max_sweeps))


# =============================================================================================
# Data checks and starting points
# =============================================================================================

MIN_SAMPLES = 10


def _constant_units(spins):
    up = np.count_nonzero(spins == 1, axis=0)
    return np.flatnonzero(up == 0), np.flatnonzero(up == spins.shape[0])


def _describe(idx):
    return f"{idx[:10].tolist()}{' ...' if idx.size > 10 else ''}"


def as_pairwise_data(X, name="data", warn=True):
    """(M, N) int8 spins from ±1 or 0/1 data (or a Dataset), with the checks of SPEC §7.

    Raises InputError for non-binary values, NaN, a wrong shape or fewer than 10 samples; warns
    (naming them) about units that never or always fire — their fields have no finite
    maximum-likelihood value and stay finite only through the L2 penalty.
    """
    from .validation import as_spins

    spins = getattr(X, "spins", X)
    spins = as_spins(spins, name=name)
    if spins.ndim != 2:
        raise InputError(f"{name} must be a 2-D (samples, units) array, got shape {spins.shape}")
    M, N = spins.shape
    if N < 2:
        raise InputError(f"{name} has {N} unit; a pairwise model needs at least 2")
    if M < MIN_SAMPLES:
        raise InputError(f"{name} has only {M} samples; at least {MIN_SAMPLES} are needed to fit a model")
    if warn:
        warn_constant_units(spins, name)
    return np.ascontiguousarray(spins)


def warn_constant_units(spins, name="data"):
    """Warn, naming them, about units that are never or always +1."""
    never, always = _constant_units(spins)
    parts = []
    if never.size:
        parts.append(f"unit{'s' if never.size > 1 else ''} {_describe(never)} never fire{'s' if never.size == 1 else ''} (always -1)")
    if always.size:
        parts.append(f"unit{'s' if always.size > 1 else ''} {_describe(always)} always fire{'s' if always.size == 1 else ''} (always +1)")
    if parts:
        warnings.warn(f"{name}: {'; '.join(parts)} (counted from 0): their fields have no finite "
                      f"maximum-likelihood value and are held finite only by the L2 penalty; consider "
                      f"removing them", RuntimeWarning, stacklevel=3)
    return never, always


def as_lattice_data(X, shape=None, name="data"):
    """(D, L, L) int8 configurations and L from (D, L, L), (D, L²) with ``shape``, or one (L, L)."""
    from .validation import as_spins

    if shape is None:
        shape = getattr(X, "shape", None) if not isinstance(X, np.ndarray) else None
        shape = shape if isinstance(shape, tuple) else None
    spins = getattr(X, "spins", X)
    spins = as_spins(spins, name=name)
    if shape is not None:
        shape = tuple(int(k) for k in shape)
        if len(shape) != 2 or shape[0] != shape[1]:
            raise InputError(f"the lattice model needs a square L×L shape, got {shape}")
        L = shape[0]
        if spins.size % (L * L):
            raise InputError(f"{name} has {spins.size} values, not a whole number of {L}×{L} configurations")
        grids = spins.reshape(-1, L, L)
    elif spins.ndim == 3 and spins.shape[1] == spins.shape[2]:
        grids = spins
    elif spins.ndim == 2 and spins.shape[0] == spins.shape[1]:
        grids = spins[None]
    elif spins.ndim == 2 and math.isqrt(spins.shape[1]) ** 2 == spins.shape[1]:
        L = math.isqrt(spins.shape[1])
        grids = spins.reshape(-1, L, L)
    else:
        raise InputError(f"cannot read {name} of shape {spins.shape} as L×L configurations: pass shape=(L, L)")
    L = grids.shape[1]
    if L < 2:
        raise InputError(f"the lattice needs L >= 2, got L = {L}")
    if np.all(grids == grids.flat[0]):
        raise InputError(f"{name}: every site of every configuration is {int(grids.flat[0]):+d}; "
                         f"J and h have no finite maximum-likelihood value")
    return np.ascontiguousarray(grids), L


def _penalised_constant_field(m, l2):
    """The field of a unit that is always m = ±1 under the penalty: root of m − tanh h − 2 l2 h."""
    from scipy.optimize import brentq

    f = lambda h: m - math.tanh(h) - 2 * l2 * h  # noqa: E731
    lo, hi = (-60.0, 0.0) if m < 0 else (0.0, 60.0)
    return float(brentq(f, lo, hi, xtol=1e-12))


def _random_pairwise(N, seed_seq):
    rng = np.random.default_rng(seed_seq)
    J = np.triu(rng.normal(0.0, 0.1, size=(N, N)), 1)
    return rng.normal(0.0, 0.1, size=N), J + J.T


def _independent_fields(spins):
    M = spins.shape[0]
    m = np.clip(spins.mean(axis=0, dtype=np.float64), -1 + 1.0 / M, 1 - 1.0 / M)
    return np.arctanh(m)


def pairwise_start(init, spins, l2, seed_seq=None):
    """Starting (h, J) for Boltzmann learning and a short description.

    ``init``: "pseudolikelihood" (default), "mean_field", "tap", "independent"
    (hᵢ = artanh⟨sᵢ⟩, J = 0), "random" (every parameter N(0, 0.1²), the course notes' start),
    "zeros", a PairwiseIsing, an object with a ``.model`` (a FitResult), or an (h, J) pair.
    A fast estimate that fails or is not finite falls back to "independent" with a warning.
    """
    M, N = spins.shape
    if isinstance(init, str):
        if init == "independent":
            return _independent_fields(spins), np.zeros((N, N)), "independent spins"
        if init == "zeros":
            return np.zeros(N), np.zeros((N, N)), "zeros"
        if init == "random":
            h, J = _random_pairwise(N, seed_seq)
            return h, J, "random N(0, 0.1²)"
        if init in ("pseudolikelihood", "mean_field", "tap"):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    if init == "pseudolikelihood":
                        from .pseudolikelihood import fit_pseudolikelihood

                        h, J, _ = fit_pseudolikelihood(spins, l2=l2, warn=False)
                    elif init == "mean_field":
                        from .mean_field import fit_mean_field

                        h, J = fit_mean_field(spins, warn=False)
                    else:
                        from .mean_field import fit_tap

                        h, J = fit_tap(spins, warn=False)
                h, J = np.asarray(h, dtype=float), np.asarray(J, dtype=float)
                if not (np.all(np.isfinite(h)) and np.all(np.isfinite(J))):
                    raise FloatingPointError("non-finite parameters")
                J = 0.5 * (J + J.T)
                np.fill_diagonal(J, 0.0)
                return h, J, init
            except (ImportError, FloatingPointError, np.linalg.LinAlgError, InputError) as exc:
                warnings.warn(f"the {init} start failed ({exc}); starting from independent spins instead",
                              RuntimeWarning, stacklevel=3)
                return _independent_fields(spins), np.zeros((N, N)), "independent spins (fallback)"
        raise InputError(f"unknown init {init!r}; choose pseudolikelihood, mean_field, tap, independent, "
                         f"random, zeros, or pass a PairwiseIsing or (h, J)")
    model = getattr(init, "model", init)
    if isinstance(model, PairwiseIsing):
        h, J = model.h, model.J
    else:
        try:
            h, J = init
        except (TypeError, ValueError):
            raise InputError(f"init must be a name, a PairwiseIsing or an (h, J) pair, got {init!r}") from None
    start = PairwiseIsing(h, J)
    if start.n_spins != N:
        raise InputError(f"init has {start.n_spins} spins but the data have {N}")
    return start.h.copy(), start.J.copy(), "given"


def _runs_away(h, J, spins, opts, seed_seq, n_chains=200, n_sweeps=40):
    """Whether chains of PairwiseIsing(h, J) started from data states run away: more than
    START_RUNAWAY of their states over the last half of ``n_sweeps`` sweeps have more units up
    than any data state."""
    k_max = int((spins == 1).sum(axis=1).max())
    chains = Chains(PairwiseIsing(h, J), n_chains, opts.rule, opts.backend, seed_seq, init=spins)
    chains.sweep(n_sweeps // 2)
    above = 0
    for _ in range(n_sweeps - n_sweeps // 2):
        chains.sweep(1)
        above += np.count_nonzero((chains.spins == 1).sum(axis=1) > k_max)
    above = chains.backend.allreduce_sum(np.array([above, chains.n_local * (n_sweeps - n_sweeps // 2)], float))
    return above[0] / above[1] > START_RUNAWAY


def _checked_start(h, J, how, spins, opts, seed_seq):
    """A fast estimate (h, J) as the start only if its samples stay where the data are
    (:func:`_runs_away`); else the same estimate damped, couplings × START_DAMPING with the mean
    local fields kept (hᵢ + (1 − γ) Σⱼ Jᵢⱼ⟨sⱼ⟩_d), and if that runs away too, independent spins."""
    if not _runs_away(h, J, spins, opts, seed_seq):
        return h, J, how
    gamma = START_DAMPING
    m = spins.mean(axis=0, dtype=np.float64)
    h_damped, J_damped = h + (1 - gamma) * (J @ m), gamma * J
    if not _runs_away(h_damped, J_damped, spins, opts, seed_seq):
        return h_damped, J_damped, f"{how}, couplings × {gamma:g} (the undamped estimate ran away when sampled)"
    N = spins.shape[1]
    return _independent_fields(spins), np.zeros((N, N)), f"independent spins (the {how} estimate ran away when sampled)"


def lattice_start(init, grids, L, boundary, l2, seed_seq=None):
    """Starting (J, h) for lattice Boltzmann learning: "pseudolikelihood" (default),
    "independent" (J = 0, h = artanh m), "random", "zeros", a LatticeIsing or a (J, h) pair."""
    if isinstance(init, str):
        if init == "pseudolikelihood":
            from .pseudolikelihood import lattice_pseudolikelihood

            res = lattice_pseudolikelihood(grids, L, boundary, l2=l2)
            return float(res.J), float(res.h), "pseudolikelihood"
        if init == "independent":
            D = grids.shape[0]
            m = np.clip(grids.mean(dtype=np.float64), -1 + 1.0 / (D * L * L), 1 - 1.0 / (D * L * L))
            return 0.0, float(np.arctanh(m)), "independent spins"
        if init == "random":
            rng = np.random.default_rng(seed_seq)
            return float(rng.normal(0, 0.1)), float(rng.normal(0, 0.1)), "random N(0, 0.1²)"
        if init == "zeros":
            return 0.0, 0.0, "zeros"
        raise InputError(f"unknown init {init!r} for the lattice; choose pseudolikelihood, independent, random, "
                         f"zeros, or pass a LatticeIsing or (J, h)")
    model = getattr(init, "model", init)
    if isinstance(model, LatticeIsing):
        return model.J, model.h, "given"
    try:
        J, h = init
        return as_scalar(J, "init J"), as_scalar(h, "init h"), "given"
    except (TypeError, ValueError):
        raise InputError(f"init must be a name, a LatticeIsing or a (J, h) pair, got {init!r}") from None


# =============================================================================================
# Public learners
# =============================================================================================

@_one_blas_thread
def boltzmann_pairwise(X, l2=None, l1=0.0, *, init="pseudolikelihood", optimizer="natural", learning_rate=None,
                       rule="metropolis", backend="auto", seed=None, n_chains=1000, tol=1.0, check_noise=0.5,
                       max_iter=300, max_sweeps=20000, cg_iter=20, param_limit=30.0, checkpoint=None,
                       checkpoint_seconds=60.0, checkpoint_every=None, resume=False, force=False, progress=None,
                       track_likelihood=None, fisher_limit=500, keep_states=None):
    """Boltzmann learning of a pairwise Ising model (maximum likelihood by moment matching).

    Maximises ℓ(h, J) = Σᵢhᵢ⟨sᵢ⟩_d + Σ_{i<j}Jᵢⱼ⟨sᵢsⱼ⟩_d − ln Z − l2(Σhᵢ² + ΣJᵢⱼ²) − l1Σ|Jᵢⱼ| with
    the model's moments from ``n_chains`` persistent chains (``rule``, ``backend``) started from
    data states; see the module docstring for the steps, the schedule and the stopping rule.

    Parameters
    ----------
    X : (M, N) ±1 or 0/1 data (or a Dataset).
    l2 : L2 penalty per sample (None → 1/M, as for pseudo-likelihood); l1 : L1 penalty on J.
    init : starting point (:func:`pairwise_start`), default the pseudo-likelihood estimate.
    optimizer : "natural" (default), "adam" or "sgd" (fixed ``learning_rate``: the course notes).
    tol : converged when every |z| ≤ tol; check_noise : ... on a sample with rms SE_model/SE ≤ this.
    max_iter, max_sweeps : at most this many iterations / sweeps per iteration.
    seed : int, SeedSequence or None (fresh entropy, recorded as ``info["seed"]``).
    cg_iter : conjugate-gradient iterations per natural step (0: the diagonal scaled gradient).
    param_limit : |θ| beyond which the fit counts as diverged.
    checkpoint, checkpoint_seconds, checkpoint_every, resume, force : see the module docstring.
    track_likelihood : record the exact log-likelihood per iteration (default: N ≤ 16).
    fisher_limit : largest number of parameters for full inverse-Fisher standard errors.

    Returns a dict: h, J, converged, iterations, max_z, msz, noise, history, stderr, info.
    """
    spins = as_pairwise_data(X)
    M, N = spins.shape
    l2 = 1.0 / M if l2 is None else as_scalar(l2, "l2")
    l1 = as_scalar(l1, "l1")
    if l2 < 0 or l1 < 0:
        raise InputError(f"l2 and l1 must be >= 0, got l2 = {l2}, l1 = {l1}")
    n_chains = as_positive_int(n_chains, "n_chains", minimum=2)
    cg_iter = as_positive_int(cg_iter, "cg_iter", minimum=0)
    opts = _Options(optimizer, learning_rate, tol, check_noise, max_iter, max_sweeps, param_limit, checkpoint,
                    checkpoint_seconds, checkpoint_every, resume, force, progress, n_chains, rule, backend)
    track = (N <= 16) if track_likelihood is None else bool(track_likelihood)
    problem = _PairwiseProblem(spins, np.zeros(N), np.zeros((N, N)), l2, l1, cg_iter, keep_states, track,
                               fisher_limit)
    root = _root_seed(seed, opts.backend)
    fingerprint = _fingerprint(spins, np.array([l2, l1]))
    start_info = {}

    def initialise():
        h, J, how = pairwise_start(init, spins, l2, _child(root, 1))
        if init in ("pseudolikelihood", "mean_field", "tap"):
            h, J, how = _checked_start(h, J, how, spins, opts, _child(root, 1))
        problem.h, problem.J = h, J
        problem.enforce()
        start_info["init"] = how

    chains, root, start = _prepare_run(problem, opts, root, spins, n_chains, fingerprint, initialise)
    out = _learn(problem, chains, opts, root, fingerprint, start, "Boltzmann learning")
    return _finish(problem, chains, opts, out, root, start_info, {"l2": l2, "l1": l1, "cg_iter": cg_iter})


@_one_blas_thread
def boltzmann_lattice(X, shape=None, boundary="periodic", l2=0.0, *, init="pseudolikelihood", optimizer="natural",
                      learning_rate=None, rule="metropolis", backend="auto", seed=None, n_chains=128, tol=1.0,
                      check_noise=0.5, max_iter=300, max_sweeps=20000, param_limit=30.0, checkpoint=None,
                      checkpoint_seconds=60.0, checkpoint_every=None, resume=False, force=False, progress=None):
    """Boltzmann learning of the uniform lattice model LatticeIsing(L, J, h) from L×L configurations.

    The data enter through x = (B, S) per configuration (bond sum, magnetisation sum); the
    model's ⟨x⟩ and F = Cov(x) come from ``n_chains`` persistent lattice chains started from data
    configurations; natural steps are δ(J, h) = (F + 2 l2 L²)⁻¹ (x̄_d − ⟨x⟩ − 2 l2 L² (J, h)).
    ``X``: (D, L, L), (D, L²) with ``shape=(L, L)``, or one (L, L) configuration.  Other
    arguments as for :func:`boltzmann_pairwise`.  Returns a dict like it, with J, h (per site),
    h_total = L²·h and standard errors (statistical, Monte Carlo and remaining distance).
    """
    grids, L = as_lattice_data(X, shape)
    if boundary not in LatticeIsing.BOUNDARIES:
        raise InputError(f"boundary must be one of {LatticeIsing.BOUNDARIES}, got {boundary!r}")
    if L % 2:
        raise InputError(f"the lattice samplers need an even L (checkerboard sweeps), got L = {L}")
    l2 = as_scalar(l2, "l2")
    if l2 < 0:
        raise InputError(f"l2 must be >= 0, got {l2}")
    n_chains = as_positive_int(n_chains, "n_chains", minimum=2)
    opts = _Options(optimizer, learning_rate, tol, check_noise, max_iter, max_sweeps, param_limit, checkpoint,
                    checkpoint_seconds, checkpoint_every, resume, force, progress, n_chains, rule, backend)
    problem = _LatticeProblem(grids, L, boundary, 0.0, 0.0, l2)
    root = _root_seed(seed, opts.backend)
    fingerprint = _fingerprint(grids, np.array([l2]), np.frombuffer(boundary.encode(), dtype=np.uint8))
    start_info = {}

    def initialise():
        J, h, how = lattice_start(init, grids, L, boundary, l2, _child(root, 1))
        problem.J, problem.h = J, h
        start_info["init"] = how

    chains, root, start = _prepare_run(problem, opts, root, grids.reshape(grids.shape[0], -1), n_chains,
                                       fingerprint, initialise)
    out = _learn(problem, chains, opts, root, fingerprint, start, f"Boltzmann learning (lattice L={L})")
    return _finish(problem, chains, opts, out, root, start_info, {"l2": l2})


def _finish(problem, chains, opts, out, root, start_info, settings):
    meas = out["measurement"]
    history = {k: np.asarray(v, dtype=float) for k, v in out["history"].items()}
    converged = out["converged"]
    stderr = problem.standard_errors(meas, chains.backend)
    if not converged:
        warnings.warn(
            f"Boltzmann learning stopped after {opts.max_iter} iterations without converging "
            f"(max |z| = {meas.max_z:.3g}, systematic mean square z = {meas.systematic:.3g}, model-sample noise "
            f"{meas.noise:.3g} against check_noise = {opts.check_noise:g}); raise max_iter or max_sweeps, or "
            f"resume from a checkpoint",
            RuntimeWarning, stacklevel=3)
    info = {
        "optimizer": opts.optimizer, "learning_rate": opts.learning_rate, "rule": opts.rule,
        "backend": chains.backend.name, "n_chains": chains.n_chains, "tol": opts.tol,
        "check_noise": opts.check_noise, "seed": root.entropy, "max_z": meas.max_z,
        "max_z_raw": meas.max_z_raw, "max_z_centred": meas.max_z_centred, "msz": meas.msz,
        "msz_centred": meas.msz_centred, "noise": meas.noise, "sample_size": meas.n_states,
        "seconds": out["state"]["elapsed"], **start_info, **settings,
    }
    if root.spawn_key:
        info["seed_spawn_key"] = list(root.spawn_key)
    result = {
        "model": problem.model(), "converged": converged, "iterations": int(len(history["max_z"])),
        "max_z": meas.max_z, "msz": meas.msz, "noise": meas.noise, "history": history,
        "stderr": stderr, "info": info, "measurement": meas, "backend": chains.backend,
    }
    if problem.kind == "lattice":
        info.update({"z": meas.z.tolist(), "data_tau": problem.data_tau.tolist(), "n_configurations": problem.D})
    else:
        info.update({"z_raw": meas.z_raw, "z_centred": meas.z_centred})
    return result


# =============================================================================================
# Judging a fit by sampling it (SPEC §8)
# =============================================================================================

@_one_blas_thread
def compare_moments(model, X, *, shape=None, n_chains=None, rule="metropolis", backend="auto", seed=None,
                    check_noise=0.25, burn_in=100, max_sweeps=20000):
    """Sample ``model`` and compare its moments with the data's, in the data's standard errors.

    The test that every fit should pass (SPEC §8): pseudo-likelihood and mean field can return
    a model that, when sampled, drifts to another activity level than the data.  Chains start
    from data states, run ``burn_in`` sweeps, then record T sweeps, T doubling until the model
    sample's noise is at most ``check_noise`` data standard errors (or T reaches ``max_sweeps``).
    No penalty enters: z = (data − model)/SE_data for every moment.

    Returns a dict: ``max_z``, ``msz`` (mean z²), ``noise``, ``sample_size`` and the z values
    (``z_raw`` for ⟨sᵢ⟩ then ⟨sᵢsⱼ⟩ (i < j), and ``z_centred``; for the lattice ``z`` of the bond
    and magnetisation sums).
    """
    backend = get_backend(backend)
    rule = check_rule(rule)
    check_noise = as_scalar(check_noise, "check_noise")
    root = _root_seed(seed, backend)
    if getattr(model, "kind", None) == "lattice":
        grids, L = as_lattice_data(X, shape if shape is not None else model.shape)
        if L != model.L:
            raise InputError(f"the data are {L}×{L} configurations but the model has L = {model.L}")
        problem = _LatticeProblem(grids, L, model.boundary, model.J, model.h, 0.0)
        states = grids.reshape(grids.shape[0], -1)
        n_chains = 128 if n_chains is None else n_chains
    elif getattr(model, "kind", None) == "pairwise":
        spins = as_pairwise_data(X, warn=False)
        if spins.shape[1] != model.n_spins:
            raise InputError(f"the data have {spins.shape[1]} units but the model has {model.n_spins}")
        problem = _PairwiseProblem(spins, model.h, model.J, 0.0, 0.0, 0, 0, False, 0, hold_constant=False)
        states = spins
        n_chains = 1000 if n_chains is None else n_chains
    else:
        raise InputError(f"compare_moments needs a PairwiseIsing or LatticeIsing model, got {model!r}")
    chains = Chains(model, as_positive_int(n_chains, "n_chains", minimum=2), rule, backend, _child(root, 0),
                    init=states)
    chains.sweep(as_positive_int(burn_in, "burn_in", minimum=0))
    T, k = 2, 0
    while True:
        chains.reseed(backend.local_seed(_child(root, 2 + k)))
        meas = problem.measure(chains, T, 0)
        if meas.noise <= check_noise or T >= max_sweeps:
            break
        T = min(max_sweeps, max(2 * T, math.ceil(T * (meas.noise / check_noise) ** 2 * 1.2)))
        k += 1
    out = {"max_z": meas.max_z, "msz": meas.msz, "noise": meas.noise, "sample_size": meas.n_states}
    if problem.kind == "lattice":
        out["z"] = meas.z
    else:
        out.update({"z_raw": meas.z_raw, "z_centred": meas.z_centred, "msz_centred": meas.msz_centred})
    return out
