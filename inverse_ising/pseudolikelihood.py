"""Pseudo-likelihood estimates of pairwise and lattice Ising models (Besag 1975).

Conventions (SPEC §1): spins s ∈ {−1, +1}, β = 1, positive J ferromagnetic, and the model
log p(s) = Σᵢ hᵢsᵢ + ½ Σᵢⱼ Jᵢⱼsᵢsⱼ − ln Z.  0/1 data are read as s = 2x − 1.

Pairwise model
--------------
The conditional distribution of one spin given the others is a logistic regression,

    p(sᵢ | s₋ᵢ) = exp(sᵢfᵢ) / (2 cosh fᵢ),    fᵢ = hᵢ + Σ_{j≠i} Jᵢⱼsⱼ,

and the pseudo-likelihood objective, per sample, with an L2 penalty, is

    ℓ_PL(h, J) = (1/M) Σ_μ Σᵢ [sᵢ^μ fᵢ^μ − ln 2cosh fᵢ^μ]  −  l2 Σᵢ (hᵢ² + Σ_{j≠i} Jᵢⱼ²).

It separates into N independent regressions, row i of J and hᵢ belonging to regression i, so
the rows are solved *together* as one problem of N + N(N−1) unknowns, with J unconstrained
(asymmetric) during the solve and symmetrised at the end, J ← (J + Jᵀ)/2.  Gradient:

    ∂ℓ_PL/∂hᵢ  = (1/M) Σ_μ gᵢ^μ − 2 l2 hᵢ,
    ∂ℓ_PL/∂Jᵢⱼ = (1/M) Σ_μ gᵢ^μ sⱼ^μ − 2 l2 Jᵢⱼ,     gᵢ^μ = sᵢ^μ − tanh fᵢ^μ,

i.e. all rows at once: the field matrix F = S Jᵀ + h and the gradient Sᵀ G are one matrix
product each.  Implementation notes (all exact reformulations, not approximations):

* *Scaled coordinates.*  Spins of sparse data have means near −1, which makes the fields and
  the couplings nearly collinear and slows a quasi-Newton method down by orders of magnitude.
  The solver works with standardised spins zⱼ = (sⱼ − mⱼ)/σⱼ (σⱼ = √(1 − mⱼ²)), the centred
  field h' = h + Jm, and every row i scaled by σᵢ (its curvature is ≈ σᵢ²): the same objective
  in coordinates where the curvature per parameter is ≈ 1 (the penalty stays on h and J).
* *Stable terms.*  With u = sᵢfᵢ and e = e^{−2|f|}:  sᵢfᵢ − ln 2cosh fᵢ = 2 min(u, 0) − ln(1 + e)
  and tanh fᵢ = sign(fᵢ)(1 − e)/(1 + e).  The logarithms of a row are taken once, of the
  product Πᵢ (1 + eᵢ) ∈ [1, 2^N], instead of N times.
* *Repeated states.*  Identical rows are merged (with counts as weights) when that removes at
  least a quarter of them, as it does for sparse spike rasters dominated by silence.
* *Precision.*  The (M, N) work arrays are float32 for large data (``dtype``); the parameters,
  the penalty and the sums across blocks are float64, and 1 + e is formed in float64, so
  float32 limits only the resolution of the objective (≈ 1e−9 per sample), below what the
  default tolerance asks.  The work is done in blocks of rows that fit in cache, on one BLAS
  thread (see :func:`inverse_ising.blas.blas_threads`; the blocked products are small, 4096 × N
  times N × N, and idle-spinning OpenBLAS threads made one evaluation 20× slower on a busy machine).
* *Degenerate data.*  Spins that never flip are decoupled and given the field of a 1-D
  penalised problem (see :func:`fit_pseudolikelihood`).

Default penalty
---------------
``l2=None`` means l2 = 1/M (M the number of samples).  On the scale of the total log
pseudo-likelihood, M·ℓ_PL, this is a Gaussian prior exp(−θ²) on every parameter (standard
deviation 1/√2 ≈ 0.7 in spin units; each Jᵢⱼ enters two regressions, so the symmetrised
coupling feels it like a prior of standard deviation ½).  That is negligible against the data
wherever they inform a parameter (the Fisher information of a field is M(1 − mᵢ²) ≫ 1) but it
is what keeps the estimate finite where they do not (SPEC §8): a neuron that never fires would
need hᵢ = −∞ and a pair that never fires together Jᵢⱼ = −∞, and with l2 = 1/M they stop where
the data's pull has fallen to e^{−2|θ|} ~ 1/M, near the value a single observed event would
give (|hᵢ| ≈ ½ ln M for a neuron seen once in M bins).  It shrinks with M, so the estimator
stays consistent.  Pass ``l2=0`` for the plain (possibly divergent) pseudo-likelihood.

Lattice model
-------------
:func:`lattice_pseudolikelihood` fits the two parameters of ``LatticeIsing`` with fᵢ = J nᵢ + h,
nᵢ the sum of the neighbours of site i (each bond as in ``LatticeIsing.to_pairwise``).  The data
enter only through the counts of the 2 × 9 values (sᵢ, nᵢ), so Newton's method on (J, h) costs
nothing; see that function for the standard errors.
"""
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from scipy.optimize import brentq, minimize

from .blas import blas_threads
from .errors import InputError
from .models import LatticeIsing, PairwiseIsing
from .validation import as_positive_int, as_scalar, as_spins

#: Rows per block in the vectorised objective (a float32 block of 60 spins is ≈ 1 MB).
BLOCK_ROWS = 4096
#: Merge identical rows when that leaves at most this fraction of them.
COMPRESS_RATIO = 0.75
#: Default to float32 work arrays from this many (distinct rows × spins) entries on.
FLOAT32_MIN_ENTRIES = 1_000_000
#: Up to this many spins the blocked products run on one BLAS thread (see blas_threads).
SINGLE_THREAD_MAX_SPINS = 256


@dataclass
class PLInfo:
    """Convergence record of :func:`fit_pseudolikelihood`.

    ``objective`` is ℓ_PL per sample including the penalty (to be maximised),
    ``log_pseudolikelihood`` the same without the penalty; ``grad_max`` is max |∂ℓ_PL/∂θ| over
    h and the asymmetric J at the solution; ``J_asymmetric`` the unsymmetrised rows (Jᵢⱼ of
    regression i).  ``n_unique`` counts the distinct rows actually used.
    """

    iterations: int
    converged: bool
    objective: float
    log_pseudolikelihood: float
    grad_max: float
    l2: float
    n_evaluations: int
    n_samples: int
    n_unique: int
    seconds: float
    message: str
    J_asymmetric: Optional[np.ndarray] = field(default=None, repr=False)


def _as_data(X, name="X"):
    S = as_spins(X, name=name)
    if S.ndim == 1:
        raise InputError(f"{name} must be a 2-D (samples, spins) array, got a 1-D array of length {S.size}")
    if S.ndim != 2:
        raise InputError(f"{name} must be a 2-D (samples, spins) array, got shape {S.shape}")
    if S.shape[1] < 2:
        raise InputError(f"{name} must have at least 2 spins (columns), got shape {S.shape}")
    return S


def _unique_rows(S):
    """(distinct rows, counts) of an int8 ±1 array, by hashing the rows packed into bits."""
    packed = np.packbits(S > 0, axis=1)
    keys = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, counts = np.unique(keys, return_index=True, return_counts=True)
    return S[first], counts.astype(np.float64)


def _constant_spins(S, w):
    """Indices of spins that are −1 in every sample, and of those that are +1 in every sample."""
    up = (S > 0).T.astype(np.float64) @ w
    return np.flatnonzero(up == 0), np.flatnonzero(up == w.sum())


def _unseen_joint_states(S, w):
    """[(i, j, a, b), ...] for the pairs i < j never seen in the joint state (sᵢ, sⱼ) = (a, b)."""
    up = (S > 0).astype(np.float64)
    wu = up * w[:, None]
    n_pp = up.T @ wu
    n_i = wu.sum(axis=0)
    total = w.sum()
    table = {(1, 1): n_pp, (1, -1): n_i[:, None] - n_pp, (-1, 1): n_i[None, :] - n_pp,
             (-1, -1): total - n_i[:, None] - n_i[None, :] + n_pp}
    out = []
    iu = np.triu_indices(S.shape[1], 1)
    for (a, b), n in table.items():
        for i, j in zip(*(x[n[iu] < 0.5] for x in iu)):
            out.append((int(i), int(j), a, b))
    return sorted(out)


class _Objective:
    """−ℓ_PL and its gradient in scaled, centred coordinates (see the module docstring).

    Parameters of the solver, θ̃ = (h̃ (N,), W̃ off-diagonal), with W[j, i] = Jᵢⱼ:

        F = Z W' + h',   Z = (S − m)/σ (column-standardised spins),
        W'[j, i] = σⱼ W[j, i],   h'ᵢ = hᵢ + Σⱼ W[j, i] mⱼ    (centring: same fields F),
        W̃ = W' · σᵢ (column i),   h̃ = h' · σᵢ               (row scaling: curvature ≈ 1).

    The curvature of regression i is ≈ Var(sᵢ) = σᵢ², so the last scaling equalises the rows,
    which would otherwise differ by the spread of firing rates (it halved the iterations on
    sparse data).  The gradient Σ_μ w_μ (s^μ − tanh f^μ)(1, z^μ) uses the constants
    a = Σ_μ w_μ s^μ and B = Σ_μ w_μ z^μ s^μᵀ, so only tanh F = sign(F)(1 − e)/(1 + e),
    e = e^{−2|F|}, is computed per evaluation.
    """

    def __init__(self, S, w, l2, dtype):
        M, N = S.shape
        self.N = N
        self.w = w
        self.total = float(w.sum())
        self.l2 = l2
        self.mean = (S.T.astype(np.float64) @ w) / self.total
        sigma = np.sqrt(np.clip(1.0 - self.mean**2, 0.0, None))
        # A constant spin has a zero standardised column; keep its scale at 1 (no information).
        self.sigma = np.where(sigma > 1e-6, sigma, 1.0)
        Z = (S - self.mean) / self.sigma
        self.a = S.T.astype(np.float64) @ w
        self.B = Z.T @ (S * w[:, None])
        self.Z = Z.astype(dtype)
        self.S = S.astype(dtype)
        self.wf = w.astype(dtype)[:, None]
        self.offdiag = ~np.eye(N, dtype=bool)  # positions of W[j, i] = Jᵢⱼ, j ≠ i
        self.n_eval = 0

    def unpack(self, theta):
        N = self.N
        Wt = np.zeros((N, N))
        Wt[self.offdiag] = theta[N:]
        return theta[:N], Wt

    def pack(self, h, W):
        return np.concatenate([h, W[self.offdiag]])

    def _primed(self, theta):
        ht, Wt = self.unpack(theta)
        return ht / self.sigma, Wt / self.sigma[None, :]

    def to_original(self, theta):
        """(h, J) with J[i, j] = Jᵢⱼ (row i = regression of spin i)."""
        hp, Wp = self._primed(theta)
        W = Wp / self.sigma[:, None]
        return hp - self.mean @ W, W.T.copy()

    def from_original(self, h, J):
        W = np.array(J, dtype=float).T
        np.fill_diagonal(W, 0.0)
        hp, Wp = h + self.mean @ W, W * self.sigma[:, None]
        return self.pack(hp * self.sigma, Wp * self.sigma[None, :])

    def data_terms(self, theta):
        """(Σ_μ wμ Σᵢ ln p(sᵢ|s₋ᵢ), ∂/∂h' (N,), ∂/∂W' (N, N)) of the unpenalised sum."""
        self.n_eval += 1
        hp, Wp = self._primed(theta)
        dt = self.Z.dtype
        Wp_f, hp_f = Wp.astype(dt), hp.astype(dt)
        loglik = 0.0
        tanh_sum = np.zeros(self.N)
        tanh_W = np.zeros((self.N, self.N))
        for a in range(0, self.Z.shape[0], BLOCK_ROWS):
            b = a + BLOCK_ROWS
            Z, w = self.Z[a:b], self.wf[a:b]
            F = Z @ Wp_f
            F += hp_f
            U = F * self.S[a:b]                     # u = sᵢfᵢ
            E = np.abs(F)
            E *= -2.0
            np.exp(E, out=E)                        # e = exp(−2|f|)
            # sf − ln 2cosh f = 2 min(u, 0) − ln(1 + e), evaluated from the same rounded F so that
            # sf − |f| cancels exactly; the logs of a row are taken of the product, formed in
            # float64 so that 1 + e keeps the digits of a small e.  (Either shortcut — the linear
            # term from the exact moments, or 1 + e in float32 — leaves the line search a
            # staircase of rounding errors and costs more evaluations than it saves.)
            np.minimum(U, 0.0, out=U)
            rows = 2.0 * U.sum(axis=1) - np.log(np.prod(np.add(E, 1.0, dtype=np.float64), axis=1))
            loglik += float(rows @ w[:, 0].astype(np.float64))
            T = 1.0 - E
            T /= 1.0 + E
            np.copysign(T, F, out=T)                # tanh f
            T *= w
            tanh_sum += T.sum(axis=0)  # per block in the work precision, across blocks in float64
            tanh_W += (Z.T @ T).astype(np.float64)
        return loglik, self.a - tanh_sum, self.B - tanh_W

    def penalty(self, hp, Wp):
        """(l2 (‖h‖² + ‖J‖²), its gradient with respect to h' and W')."""
        W = Wp / self.sigma[:, None]
        h = hp - self.mean @ W
        value = self.l2 * (h @ h + np.sum(W * W))
        # h = h' − Σⱼ W'[j,i] mⱼ/σⱼ,  W[j,i] = W'[j,i]/σⱼ.
        gh = 2.0 * self.l2 * h
        gW = 2.0 * self.l2 * (W - np.outer(self.mean, h)) / self.sigma[:, None]
        return value, gh, gW

    def __call__(self, theta):
        """(−ℓ_PL, −∇ℓ_PL) per sample in the θ̃ coordinates, for a minimiser."""
        loglik, g_h, g_W = self.data_terms(theta)
        pen, p_h, p_W = self.penalty(*self._primed(theta))
        f = -loglik / self.total + pen
        gh = -g_h / self.total + p_h
        gW = -g_W / self.total + p_W
        return f, self.pack(gh / self.sigma, gW / self.sigma[None, :])

    def original_gradient(self, grad):
        """Gradient of the same function with respect to (h, Jᵢⱼ), from the θ̃ gradient."""
        g_ht, g_Wt = self.unpack(grad)
        g_hp, g_Wp = g_ht * self.sigma, g_Wt * self.sigma[None, :]
        # (h', W') = (h + Wᵀm, σ∘W) ⇒ ∂/∂h = ∂/∂h' and ∂/∂W[j,i] = mⱼ ∂/∂h'ᵢ + σⱼ ∂/∂W'[j,i].
        g_W = np.outer(self.mean, g_hp) + self.sigma[:, None] * g_Wp
        np.fill_diagonal(g_W, 0.0)
        return g_hp, g_W.T


def pseudolikelihood_objective(X, h, J, l2=0.0):
    """ℓ_PL(h, J) per sample and its gradient (∂/∂h (N,), ∂/∂Jᵢⱼ (N, N), zero diagonal), in float64.

    J may be asymmetric (row i = regression of spin i); its diagonal is ignored.  A plain,
    unblocked reference implementation of the objective that :func:`fit_pseudolikelihood`
    maximises (used by the tests and handy for checking a fit).
    """
    S = _as_data(X).astype(np.float64)
    h = np.asarray(h, dtype=float)
    J = np.array(J, dtype=float)
    np.fill_diagonal(J, 0.0)
    F = S @ J.T + h
    value = np.mean(np.sum(S * F - np.logaddexp(F, -F), axis=1)) - l2 * (h @ h + np.sum(J * J))
    G = S - np.tanh(F)
    gh = G.mean(axis=0) - 2 * l2 * h
    gJ = G.T @ S / S.shape[0] - 2 * l2 * J
    np.fill_diagonal(gJ, 0.0)
    return float(value), gh, gJ


def fit_pseudolikelihood(X, l2=None, symmetrize=True, max_iter=1000, tol=None, *, init=None,
                         dtype=None, compress="auto", warn=True):
    """Maximum pseudo-likelihood pairwise Ising model of binary data: returns ``(h, J, info)``.

    Maximises, over h (N,) and J (N, N) with zero diagonal,

        ℓ_PL = (1/M) Σ_μ Σᵢ [sᵢfᵢ − ln 2cosh fᵢ] − l2 Σᵢ (hᵢ² + Σ_{j≠i} Jᵢⱼ²),  fᵢ = hᵢ + Σ_{j≠i} Jᵢⱼsⱼ,

    all N conditional (logistic) regressions at once with scipy's L-BFGS-B, then returns
    J = (J + Jᵀ)/2 when ``symmetrize`` (the asymmetric rows are kept in ``info.J_asymmetric``).

    Parameters
    ----------
    X : (M, N) array of ±1 spins or 0/1 values (s = 2x − 1).
    l2 : L2 penalty per sample; None → 1/M (see the module docstring for why); 0 → none.
    symmetrize : return (J + Jᵀ)/2 (True) or the raw regression rows (False).
    max_iter : L-BFGS iterations at most.
    tol : stop when every component of the gradient in the solver's scaled coordinates (where
        the curvature per sample is ≈ 1 and the statistical error of a parameter ≈ 1/√M) is
        below ``tol``.  None → 0.01/√M, an optimisation error ≈ 1 % of the statistical one
        (3e−5 at M = 10⁵).  ``info.grad_max`` reports the gradient in (h, J).  A line search
        that fails at float32 resolution within 10·tol also counts as converged.
    init : optional start, a PairwiseIsing or an (h, J) pair; default the independent-spin
        model hᵢ = artanh mᵢ, J = 0.
    dtype : float type of the (M, N) work arrays; None → float32 when the (distinct) data hold
        at least FLOAT32_MIN_ENTRIES = 10⁶ spins, else float64 (small problems cost nothing and
        float64 lets the line search resolve the last digits).
    compress : merge repeated rows: "auto" (when it removes ≥ 25 % of them), True or False.
    warn : emit RuntimeWarnings for constant spins, non-convergence and divergence.

    ``info`` is a :class:`PLInfo` (iterations, converged, objective, grad_max, ...).

    Degenerate data (SPEC §8).  A spin that never flips is decoupled (its couplings are not
    identifiable: its column is collinear with the fields) and gets the field solving the 1-D
    penalised problem σ − tanh h − 2 l2 h = 0, with a RuntimeWarning; with ``l2=0`` that field
    is infinite and InputError is raised.  A pair never seen in one of its four joint states
    has no finite unpenalised optimum; with ``l2=0`` the solver stops wherever the objective
    has flattened (the values depend on ``tol``), ``info.converged`` is False and a
    RuntimeWarning names the pair.  The default l2 keeps both finite.
    """
    t0 = time.perf_counter()
    S = _as_data(X)
    M, N = S.shape
    l2 = 1.0 / M if l2 is None else as_scalar(l2, "l2")
    if l2 < 0:
        raise InputError(f"l2 must be >= 0, got {l2}")
    max_iter = as_positive_int(max_iter, "max_iter")
    tol = 0.01 / math.sqrt(M) if tol is None else as_scalar(tol, "tol")
    if tol <= 0:
        raise InputError(f"tol must be positive, got {tol}")
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise InputError(f"dtype must be float32 or float64, got {dtype}")
    if compress not in ("auto", True, False):
        raise InputError(f"compress must be 'auto', True or False, got {compress!r}")

    w = np.ones(M)
    if compress is not False:
        U, counts = _unique_rows(S)
        if compress is True or U.shape[0] <= COMPRESS_RATIO * M:
            S, w = U, counts
    never, always = _constant_spins(S, w)
    constant = np.union1d(never, always)
    if constant.size:
        parts = []
        if never.size:
            parts.append(f"never +1 (never fires): {never[:10].tolist()}{' ...' if never.size > 10 else ''}")
        if always.size:
            parts.append(f"always +1: {always[:10].tolist()}{' ...' if always.size > 10 else ''}")
        if l2 == 0:
            raise InputError(
                "pseudo-likelihood: spins " + "; ".join(parts) + ": their fields are infinite without a "
                "penalty (their couplings are not identifiable at all); pass l2 > 0 or remove them")
        if warn:
            warnings.warn("pseudo-likelihood: spins " + "; ".join(parts) + " — they are decoupled (J = 0) "
                          f"and their fields are held finite by the L2 penalty (l2 = {l2:.3g})",
                          RuntimeWarning, stacklevel=2)
    active = np.setdiff1d(np.arange(N), constant)
    n_act = active.size

    h = np.zeros(N)
    J_rows = np.zeros((N, N))
    # A constant spin sᵢ ≡ σ: its column is collinear with the fields (no coupling to it is
    # identifiable) and its own row is fitted by the field alone, the root of σ − tanh h − 2 l2 h.
    const_value = 0.0
    for i in constant:
        sigma_i = 1.0 if i in always else -1.0
        hi = brentq(lambda x: sigma_i - math.tanh(x) - 2.0 * l2 * x, 0.0, sigma_i * max(50.0, 1.0 / l2))
        h[i] = hi
        const_value += sigma_i * hi - (abs(hi) + math.log1p(math.exp(-2 * abs(hi)))) - l2 * hi * hi

    if n_act:
        Sa = np.ascontiguousarray(S[:, active])
        if dtype is None:
            dtype = np.dtype(np.float32 if Sa.size >= FLOAT32_MIN_ENTRIES else np.float64)
        obj = _Objective(Sa, w, l2, dtype)
        if init is None:
            m = np.clip(obj.mean, -1 + 1.0 / (2 * M), 1 - 1.0 / (2 * M))
            theta0 = obj.from_original(np.arctanh(m), np.zeros((n_act, n_act)))
        else:
            h0, J0 = (init.h, init.J) if isinstance(init, PairwiseIsing) else init
            h0, J0 = np.asarray(h0, dtype=float), np.asarray(J0, dtype=float)
            if h0.shape != (N,) or J0.shape != (N, N) or not (np.all(np.isfinite(h0)) and np.all(np.isfinite(J0))):
                raise InputError(f"init must be finite (h, J) of shapes ({N},), ({N}, {N}) to match X")
            theta0 = obj.from_original(h0[active], J0[np.ix_(active, active)])

        with blas_threads(1 if n_act <= SINGLE_THREAD_MAX_SPINS else None):
            # float32 objectives are resolved to ~1e−9 per sample: a looser ftol and a short line
            # search stop the solver promptly there instead of spending evaluations on rounding.
            f32 = dtype == np.float32
            res = minimize(obj, theta0, jac=True, method="L-BFGS-B",
                           options={"maxiter": max_iter, "maxcor": 20, "gtol": tol,
                                    "ftol": 1e-10 if f32 else 1e-14, "maxls": 8 if f32 else 20})
        h_a, J_a = obj.to_original(res.x)
        h[active] = h_a
        J_rows[np.ix_(active, active)] = J_a
        gh, gJ = obj.original_gradient(res.jac)
        grad_max = float(max(np.max(np.abs(gh)), np.max(np.abs(gJ)) if gJ.size else 0.0))
        objective = float(-res.fun) + const_value
        # L-BFGS-B stops with success on the gradient test or on a vanishing relative decrease;
        # an abnormal line-search exit at float32 resolution with a small gradient also counts.
        converged = bool(res.success) or float(np.max(np.abs(res.jac))) <= 10 * tol
        nit, n_eval, message = int(res.nit), obj.n_eval, str(res.message)
    else:
        grad_max, objective, converged, nit, n_eval, message = 0.0, const_value, True, 0, 0, "all spins constant"
    pen = l2 * (h @ h + np.sum(J_rows * J_rows))
    if not converged and warn:
        warnings.warn(f"pseudo-likelihood stopped after {nit} iterations without converging "
                      f"({message}; max |gradient| = {grad_max:.3g})", RuntimeWarning, stacklevel=2)
    unseen = _unseen_joint_states(S, w) if l2 == 0 else []
    if unseen:
        # The optimum is at infinity: e.g. if (sᵢ, sⱼ) = (+1, +1) never occurs, lowering Jᵢⱼ and hᵢ
        # together by t raises ℓ_PL for every t.  What the solver returns depends on when it stopped.
        converged = False
        if warn:
            i, j, a, b = unseen[0]
            warnings.warn(
                f"pseudo-likelihood with l2 = 0 has no finite optimum: {len(unseen)} pair(s) never take one "
                f"of their four joint states (e.g. spins {i} and {j} are never ({a:+d}, {b:+d}) together), so "
                f"their couplings diverge (here max |J| = {np.max(np.abs(J_rows)):.3g}, growing as tol shrinks); "
                f"pass l2 > 0", RuntimeWarning, stacklevel=2)
    J = 0.5 * (J_rows + J_rows.T) if symmetrize else J_rows.copy()
    info = PLInfo(
        iterations=nit, converged=converged, objective=objective,
        log_pseudolikelihood=objective + float(pen), grad_max=grad_max, l2=float(l2),
        n_evaluations=n_eval, n_samples=M, n_unique=int(S.shape[0]),
        seconds=time.perf_counter() - t0, message=message, J_asymmetric=J_rows,
    )
    return h, J, info


# ---------------------------------------------------------------------------------------------
# Lattice model: two parameters
# ---------------------------------------------------------------------------------------------

@dataclass
class LatticePLResult:
    """Pseudo-likelihood estimate of ``LatticeIsing(L, J, h, boundary)`` with standard errors.

    ``cov`` is the 2×2 covariance of (J, h) used for ``se_J``, ``se_h`` (the sandwich estimate
    described in :func:`lattice_pseudolikelihood`); ``cov_naive`` is the inverse Hessian, which
    treats the M·L² site conditionals as independent observations.  ``objective`` is the mean
    log conditional probability per site (minus the penalty, if any).
    """

    J: float
    h: float
    se_J: float
    se_h: float
    cov: np.ndarray
    cov_naive: np.ndarray
    se_method: str
    n_units: int
    L: int
    boundary: str
    n_samples: int
    iterations: int
    converged: bool
    objective: float

    @property
    def model(self):
        return LatticeIsing(self.L, self.J, self.h, self.boundary)

    @property
    def h_total(self):
        """The course notes' total field L²·h (SPEC §1)."""
        return self.L * self.L * self.h

    @property
    def se_h_total(self):
        return self.L * self.L * self.se_h

    @property
    def se_naive(self):
        """(se_J, se_h) from the inverse Hessian alone."""
        return tuple(float(x) for x in np.sqrt(np.diag(self.cov_naive)))


def _as_lattice_data(X, L, boundary):
    if boundary not in LatticeIsing.BOUNDARIES:
        raise InputError(f"boundary must be one of {LatticeIsing.BOUNDARIES}, got {boundary!r}")
    S = as_spins(X, name="X")
    if L is not None:
        L = as_positive_int(L, "L", minimum=2)
    if S.ndim == 3:
        if S.shape[1] != S.shape[2] or (L is not None and S.shape[1] != L):
            raise InputError(f"X of shape {S.shape} is not a stack of {L or 'square'} × {L or 'square'} lattices")
        return S, S.shape[1]
    if S.ndim == 2:
        if L is None:
            if S.shape[0] == S.shape[1]:
                L = S.shape[0]  # one L×L configuration
            else:
                n = math.isqrt(S.shape[1])
                if n * n != S.shape[1]:
                    raise InputError(f"X has shape {S.shape}: pass L, the rows do not hold L² spins")
                L = n
        if S.shape[1] == L * L:
            return S.reshape(-1, L, L), L
        if S.shape == (L, L):
            return S.reshape(1, L, L), L
        raise InputError(f"X has shape {S.shape}, which holds neither rows of L² = {L * L} spins nor one {L}×{L} lattice")
    if S.ndim == 1 and L is not None and S.size == L * L:
        return S.reshape(1, L, L), L
    raise InputError(f"X must be (M, L, L), (M, L²) or (L, L), got shape {S.shape}")


def _neighbour_sums(g, boundary):
    """nᵢ for every site of (B, L, L) int8 grids, with the bond multiplicities of to_pairwise."""
    if boundary == "periodic":
        return (np.roll(g, 1, 1) + np.roll(g, -1, 1) + np.roll(g, 1, 2) + np.roll(g, -1, 2)).astype(np.int8)
    n = np.zeros(g.shape, dtype=np.int8)
    n[:, 1:, :] += g[:, :-1, :]
    n[:, :-1, :] += g[:, 1:, :]
    n[:, :, 1:] += g[:, :, :-1]
    n[:, :, :-1] += g[:, :, 1:]
    return n


def lattice_pseudolikelihood(X, L=None, boundary="periodic", *, l2=0.0, groups=None, tile=None,
                             tol=1e-12, max_iter=100):
    """Pseudo-likelihood (J, h) of the uniform square-lattice Ising model, with standard errors.

    Maximises the mean log conditional probability per site

        ℓ(J, h) = (1/(M L²)) Σ_μ Σᵢ [sᵢ fᵢ − ln 2cosh fᵢ] − l2 (J² + h²),   fᵢ = J nᵢ + h,

    nᵢ the neighbour sum of site i (4 neighbours on the torus; fewer at open edges), by Newton's
    method on the two parameters, with a backtracking line search.  The data enter only through
    the counts of the 18 possible (sᵢ, nᵢ), so any number of configurations costs one pass.

    Standard errors.  The site conditionals of one configuration are *not* independent, so the
    inverse Hessian of the summed log pseudo-likelihood (``cov_naive``) is not the covariance of
    the estimate.  The reported ``cov`` is the sandwich (Godambe) estimate
    H⁻¹ V H⁻¹ · n/(n − 2), with H the Hessian of the total log pseudo-likelihood and
    V = Σ_u s_u s_uᵀ the outer products of the score s_u = Σ_{i∈u} (sᵢ − tanh fᵢ)(nᵢ, 1) summed
    over n independent units u.  Units are

    * the configurations (rows of X) — they must be independent draws (e.g. ``ii.sample`` with a
      thinning beyond the autocorrelation time), or grouped with ``groups`` (one label per
      configuration, e.g. a chain id, for a clustered estimate);
    * when there are fewer than 20 configurations and no ``groups``, square tiles of ``tile``
      × ``tile`` sites (default: the largest size that gives ≥ 20 units in all), which
      treats distant parts of one image as independent: an approximation that underestimates
      the errors when the correlation length approaches the tile size (near K_c).

    Parameters
    ----------
    X : (M, L, L), (M, L²) or one (L, L) configuration; ±1 or 0/1.
    L : lattice size (inferred from X when unambiguous).
    boundary : "periodic" or "open".
    l2 : optional penalty on (J, h) (needed only for degenerate data, e.g. a uniform image).

    Returns a :class:`LatticePLResult` (``J``, ``h``, ``se_J``, ``se_h``, ``cov``, ``model``, ...).
    """
    grids, L = _as_lattice_data(X, L, boundary)
    l2 = as_scalar(l2, "l2")
    if l2 < 0:
        raise InputError(f"l2 must be >= 0, got {l2}")
    M = grids.shape[0]
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != (M,):
            raise InputError(f"groups must hold one label per configuration ({M}), got shape {groups.shape}")
        _, unit_of_config = np.unique(groups, return_inverse=True)
        n_units = int(unit_of_config.max()) + 1
        tiles_per_config, tile_index = 1, np.zeros((L, L), dtype=np.int64)
        se_method = f"sandwich over {n_units} groups of configurations"
    elif M >= 20 or L < 4:
        unit_of_config, n_units = np.arange(M), M
        tiles_per_config, tile_index = 1, np.zeros((L, L), dtype=np.int64)
        se_method = f"sandwich over {M} configurations"
    else:
        if tile is None:
            per_config = math.ceil(20 / M)
            tile = max(2, L // max(1, math.ceil(math.sqrt(per_config))))
        tile = as_positive_int(tile, "tile", minimum=1)
        nt = math.ceil(L / tile)
        r = np.arange(L) // tile
        tile_index = (r[:, None] * nt + r[None, :]).astype(np.int64)
        tiles_per_config = nt * nt
        unit_of_config, n_units = np.arange(M) * tiles_per_config, M * tiles_per_config
        se_method = f"sandwich over {tile}×{tile} tiles ({n_units} units; tiles treated as independent)"

    # counts[u, c]: number of sites of unit u in cell c = (s + 1)/2 · 9 + (n + 4).
    counts = np.zeros((n_units, 18))
    chunk = max(1, (1 << 22) // (L * L))
    for a in range(0, M, chunk):
        g = grids[a:a + chunk]
        n = _neighbour_sums(g, boundary)
        cell = ((g > 0).astype(np.int64) * 9 + n.astype(np.int64) + 4)
        unit = unit_of_config[a:a + chunk, None, None] + tile_index[None]
        counts += np.bincount((unit * 18 + cell).ravel(), minlength=n_units * 18).reshape(n_units, 18)
    cell_s = np.repeat([-1.0, 1.0], 9)
    cell_n = np.tile(np.arange(-4.0, 5.0), 2)
    total = counts.sum(axis=0)
    n_sites = total.sum()
    phi = np.stack([cell_n, np.ones(18)], axis=1)  # ∂f/∂(J, h)

    if l2 == 0:
        # A finite maximum exists unless some direction β ≠ 0 has s·(φ·β) ≥ 0 on every observed
        # cell, strictly on one (the data are separated); in 2-D such a cone contains a ray
        # orthogonal to some φ = (n, 1), so the candidates are β = ±(1, −n).
        seen = total > 0
        for n0 in range(-4, 5):
            for sign in (1.0, -1.0):
                margin = cell_s[seen] * (phi[seen] @ (sign * np.array([1.0, -n0])))
                if np.all(margin >= 0) and np.any(margin > 0):
                    raise InputError(
                        "lattice pseudo-likelihood has no finite optimum: the configurations are degenerate "
                        "(e.g. all sites equal, or a perfect checkerboard), so J or h diverges; pass l2 > 0")

    def evaluate(theta):
        f = phi @ theta
        val = (total @ (cell_s * f - np.logaddexp(f, -f))) / n_sites - l2 * theta @ theta
        r = cell_s - np.tanh(f)
        grad = phi.T @ (total * r) / n_sites - 2 * l2 * theta
        curv = total * (1.0 - np.tanh(f) ** 2)
        hess = -(phi.T * curv) @ phi / n_sites - 2 * l2 * np.eye(2)
        return val, grad, hess

    theta = np.zeros(2)
    val, grad, hess = evaluate(theta)
    converged, it = False, 0
    for it in range(1, max_iter + 1):
        try:
            step = -np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            step = grad
        t = 1.0
        while True:
            new = evaluate(theta + t * step)
            if new[0] >= val + 1e-4 * t * (grad @ step) or t < 1e-12:
                break
            t *= 0.5
        theta = theta + t * step
        val, grad, hess = new
        if np.max(np.abs(theta)) > 50:
            raise InputError(
                f"lattice pseudo-likelihood diverges (J = {theta[0]:.3g}, h = {theta[1]:.3g}): the "
                f"configurations are degenerate (e.g. all sites equal); pass l2 > 0")
        if np.max(np.abs(grad)) <= tol:
            converged = True
            break
    # Standard errors (totals, not per-site means).
    f = phi @ theta
    H_total = -hess * n_sites  # Σ curvature φφᵀ (+ penalty), on the scale of the total log PL
    r = cell_s - np.tanh(f)
    scores = (counts * r) @ phi - (2 * l2 * theta * n_sites / n_units)  # (n_units, 2)
    V = scores.T @ scores
    try:
        Hinv = np.linalg.inv(H_total)
    except np.linalg.LinAlgError:
        Hinv = np.full((2, 2), np.inf)
    corr = n_units / (n_units - 2) if n_units > 2 else np.inf
    cov = Hinv @ V @ Hinv * corr
    return LatticePLResult(
        J=float(theta[0]), h=float(theta[1]), se_J=float(np.sqrt(cov[0, 0])), se_h=float(np.sqrt(cov[1, 1])),
        cov=cov, cov_naive=Hinv, se_method=se_method, n_units=int(n_units), L=L, boundary=boundary,
        n_samples=M, iterations=it, converged=converged, objective=float(val),
    )
