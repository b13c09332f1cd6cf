"""Interaction screening estimates of pairwise Ising models: RISE and logRISE.

Conventions (SPEC §1): spins s ∈ {−1, +1}, β = 1, positive J ferromagnetic, and the model
log p(s) = Σᵢ hᵢsᵢ + ½ Σᵢⱼ Jᵢⱼsᵢsⱼ − ln Z.  0/1 data are read as s = 2x − 1.

Interaction screening objective
-------------------------------
With the local field fᵢ = hᵢ + Σ_{j≠i} Jᵢⱼsⱼ, the interaction screening objective of spin i
(Vuffray, Misra, Lokhov & Chertkov, NeurIPS 2016) is

    Sᵢ(hᵢ, Jᵢ) = (1/M) Σ_μ exp(−sᵢ^μ fᵢ^μ).

Its expectation is minimised at the true parameters: its gradient is −E[sᵢ e^{−sᵢfᵢ} (1, s₋ᵢ)],
and the conditional mean E[sᵢ e^{−sᵢfᵢ} | s₋ᵢ] = Σ_{sᵢ=±1} sᵢ e^{sᵢfᵢ} e^{−sᵢfᵢ}/(2 cosh fᵢ) = 0
vanishes there: the weight e^{−sᵢfᵢ} "screens" the interactions of spin i with the rest.
Sᵢ is convex.  The two estimators minimise, for every spin i separately,

    RISE     (Vuffray et al. 2016):                     Sᵢ(hᵢ, Jᵢ) + λ Σ_{j≠i} |Jᵢⱼ|,
    logRISE  (Lokhov, Vuffray, Misra & Chertkov 2018):  ln Sᵢ(hᵢ, Jᵢ) + λ Σ_{j≠i} |Jᵢⱼ|,

with the L1 penalty on the couplings only (the fields are not penalised), and then symmetrise,
J ← (J + Jᵀ)/2.  At λ = 0 logRISE and RISE have the same minimiser (ln is increasing); the
penalty acts on different scales (the gradient of ln Sᵢ is that of Sᵢ divided by Sᵢ ≤ 1).

Default penalty
---------------
``l1="auto"`` is the papers' form λ = c √(ln(N²/δ)/M), with δ = 0.05 and c = 0.4 for RISE,
0.8 for logRISE (the constants of the authors' reference implementation, GraphicalModelLearning.jl).
At N = 20 and M = 50 000, λ ≈ 0.005 (RISE) and 0.011 (logRISE).  It is meant for sparse models,
where it zeroes the couplings that the data do not support; it also shrinks every kept coupling
by about λ/(curvature), a bias that stays a fixed multiple of the statistical error (∝ 1/√M) at
every M.  For dense models (every pair coupled) pass ``l1=0``; for the couplings of a sparse
model refit without the penalty on the penalised fit's graph (``support``, the second step of
Lokhov et al. 2018).  Measured figures: docs/estimators.md.

Solution
--------
All N problems are solved together as one L-BFGS-B problem, vectorised like
:func:`inverse_ising.pseudolikelihood.fit_pseudolikelihood`: the fields of all spins are one
matrix product F = S Jᵀ + h, the gradient Σ_μ wμ e^{−sᵢfᵢ} sᵢ (1, s₋ᵢ) of all rows another.  The
L1 term is made smooth by the exact split Jᵢⱼ = Pᵢⱼ − Qᵢⱼ with Pᵢⱼ, Qᵢⱼ ≥ 0 (bounds for
L-BFGS-B) and |Jᵢⱼ| replaced by Pᵢⱼ + Qᵢⱼ (at the optimum at most one of the two is nonzero
when λ > 0).  As for pseudo-likelihood, the solver works in centred, scaled coordinates (the same
objective): standardised spins zⱼ = (sⱼ − mⱼ)/σⱼ, σⱼ = √(1 − mⱼ²), and the centred field
h' = h + Jm.  On sparse data (mⱼ ≈ −0.9) this cuts the iterations twentyfold (N = 60,
M = 50 000 retina-like data: 13 instead of 295 for logRISE); on the SK test model by 1.5×.  The
sums over samples are taken block by block with a running per-spin shift (ln Sᵢ as a
log-sum-exp), so trial points of the line search cannot overflow.  Repeated rows are merged
with counts, as for pseudo-likelihood.

Degenerate data
---------------
A spin that never flips has an infinite field (no penalty holds it) and no identifiable
coupling: it is decoupled (J = 0 in its row and column) and given the field of a spin seen in
its other state half a time in M samples, hᵢ = ±artanh(1 − 1/(2M)) = ±½ ln(4M − 1) (the RISE
estimate of a lone spin, and pseudo-likelihood's starting value), with a RuntimeWarning.  A pair
never seen in one of its four joint states has no finite optimum without the L1 penalty; with
``l1=0`` the couplings run off, ``info.converged`` is False and a RuntimeWarning names the pair.

Structure
---------
:func:`recovered_graph` turns a coupling estimate into an edge set by thresholding |Jᵢⱼ|
(the papers' rule |Jᵢⱼ| > κ/2, κ a lower bound on the nonzero |Jᵢⱼ|, or a largest-gap rule when
κ is not known).
"""
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from scipy.optimize import Bounds, minimize

from .blas import blas_threads
from .errors import InputError
from .models import PairwiseIsing
from .pseudolikelihood import (BLOCK_ROWS, COMPRESS_RATIO, SINGLE_THREAD_MAX_SPINS, _as_data, _constant_spins,
                               _unique_rows, _unseen_joint_states)
from .validation import as_coupling_matrix, as_positive_int, as_scalar

__all__ = ["ISInfo", "fit_interaction_screening", "interaction_screening_objective", "default_l1",
           "recovered_graph", "random_regular_graph", "L1_CONSTANT", "L1_DELTA"]

#: c of the default λ = c √(ln(N²/δ)/M), by estimator ("rise", "logrise").
L1_CONSTANT = {"rise": 0.4, "logrise": 0.8}
#: δ of the default λ (the probability of failure the papers' bound allows).
L1_DELTA = 0.05


@dataclass
class ISInfo:
    """Convergence record of :func:`fit_interaction_screening`.

    ``method`` is "logrise" or "rise".  ``objective`` is Σᵢ [ln Sᵢ or Sᵢ] + λ Σ_{i≠j} |Jᵢⱼ| over the
    asymmetric rows at the solution (to be *minimised*, unlike pseudo-likelihood's ℓ_PL);
    ``screening`` is the same sum without the penalty; ``l1`` is λ.  ``grad_max`` is the largest
    violation of the optimality conditions in (h, Jᵢⱼ): |∂/∂hᵢ|, |∂/∂Jᵢⱼ + λ sign Jᵢⱼ| where
    Jᵢⱼ ≠ 0 and max(|∂/∂Jᵢⱼ| − λ, 0) where Jᵢⱼ = 0.  ``J_asymmetric`` holds the unsymmetrised
    rows (Jᵢⱼ of spin i's problem); ``n_unique`` the distinct rows actually used.
    """

    method: str
    iterations: int
    converged: bool
    objective: float
    screening: float
    l1: float
    grad_max: float
    n_evaluations: int
    n_samples: int
    n_unique: int
    seconds: float
    message: str
    J_asymmetric: Optional[np.ndarray] = field(default=None, repr=False)


def default_l1(n_spins, n_samples, log=True):
    """The papers' penalty λ = c √(ln(N²/δ)/M), c = :data:`L1_CONSTANT`, δ = :data:`L1_DELTA`."""
    c = L1_CONSTANT["logrise" if log else "rise"]
    return c * math.sqrt(math.log(n_spins * n_spins / L1_DELTA) / n_samples)


def interaction_screening_objective(X, h, J, log=True, l1=0.0):
    """Σᵢ [ln Sᵢ or Sᵢ] + l1 Σ_{i≠j} |Jᵢⱼ| and its gradient (∂/∂h (N,), ∂/∂Jᵢⱼ (N, N), zero diagonal).

    Sᵢ = (1/M) Σ_μ exp(−sᵢ^μ fᵢ^μ), fᵢ = hᵢ + Σ_{j≠i} Jᵢⱼsⱼ.  J may be asymmetric (row i = spin i's
    problem); its diagonal is ignored; the gradient of |Jᵢⱼ| at 0 is taken as 0.  A plain float64
    reference of what :func:`fit_interaction_screening` minimises (used by the tests).
    """
    S = _as_data(X).astype(np.float64)
    h = np.asarray(h, dtype=float)
    J = np.array(J, dtype=float)
    np.fill_diagonal(J, 0.0)
    F = S @ J.T + h
    E = np.exp(-S * F)
    Si = E.mean(axis=0)
    G = -(E * S) / S.shape[0]       # ∂Sᵢ/∂fᵢ per sample
    if log:
        G /= Si
    gh = G.sum(axis=0)
    gJ = G.T @ S + l1 * np.sign(J)
    np.fill_diagonal(gJ, 0.0)
    value = float(np.sum(np.log(Si)) if log else np.sum(Si)) + l1 * float(np.abs(J).sum())
    return value, gh, gJ


class _Objective:
    """Σᵢ [ln Sᵢ or Sᵢ] + λ Σ |Jᵢⱼ| and its gradient in scaled, centred, split coordinates.

    Solver parameters θ = (h' (n,), P, Q (the free pairs: off-diagonal and in the support)),
    P, Q ≥ 0, with

        K'ᵢⱼ = σⱼJᵢⱼ = Pᵢⱼ − Qᵢⱼ,   h'ᵢ = hᵢ + Σⱼ Jᵢⱼmⱼ,   F = Z K'ᵀ + h',

    Z = (S − m)/σ the standardised spins.  The penalty λ Σ |Jᵢⱼ| becomes λ Σ (Pᵢⱼ + Qᵢⱼ)/σⱼ,
    linear in θ.
    """

    def __init__(self, S, w, l1, log, support):
        n = S.shape[1]
        self.n, self.w, self.l1, self.log = n, w, l1, log
        self.total = float(w.sum())
        self.mean = (S.T.astype(np.float64) @ w) / self.total
        # Only spins that flip reach here, so σ > 0; the floor guards rounding alone.
        self.sigma = np.sqrt(np.clip(1.0 - self.mean**2, 1e-12, None))
        self.Z = (S - self.mean) / self.sigma
        self.S = S.astype(np.float64)
        self.free = support & ~np.eye(n, dtype=bool)   # the Jᵢⱼ being fitted; the others stay 0
        self.k = int(self.free.sum())
        # ∂|Jᵢⱼ|/∂Pᵢⱼ = ∂|Jᵢⱼ|/∂Qᵢⱼ = 1/σⱼ
        self.pen_weight = np.broadcast_to(1.0 / self.sigma, (n, n))[self.free]
        self.n_eval = 0

    @property
    def bounds(self):
        lower = np.concatenate([np.full(self.n, -np.inf), np.zeros(2 * self.k)])
        return Bounds(lower, np.full(lower.size, np.inf))

    def unpack(self, theta):
        """(h' (n,), K' (n, n)) from θ."""
        n, k = self.n, self.k
        K = np.zeros((n, n))
        K[self.free] = theta[n:n + k] - theta[n + k:]
        return theta[:n], K

    def to_original(self, theta):
        """(h, J) with J[i, j] = Jᵢⱼ (row i = spin i's problem)."""
        hp, Kp = self.unpack(theta)
        J = Kp / self.sigma[None, :]
        return hp - J @ self.mean, J

    def from_original(self, h, J):
        J = np.array(J, dtype=float)
        np.fill_diagonal(J, 0.0)
        Kp = (J * self.sigma[None, :])[self.free]
        return np.concatenate([h + J @ self.mean, np.maximum(Kp, 0.0), np.maximum(-Kp, 0.0)])

    def screening_terms(self, theta):
        """(ln Sᵢ (n,), ∂Sᵢ/∂h'ᵢ / Sᵢ (n,), ∂Sᵢ/∂K'ᵢⱼ / Sᵢ (n, n)).

        Block by block with a running shift aᵢ: Tᵢ = Σ_μ wμ e^{uᵢ^μ − aᵢ}, u = −sᵢfᵢ, so that
        ln Sᵢ = aᵢ + ln Tᵢ − ln Σwμ whatever the size of u.
        """
        hp, Kp = self.unpack(theta)
        n = self.n
        shift = np.full(n, -np.inf)
        T = np.zeros(n)
        gh = np.zeros(n)
        gK = np.zeros((n, n))
        for a in range(0, self.Z.shape[0], BLOCK_ROWS):
            b = a + BLOCK_ROWS
            Sb, Zb, wb = self.S[a:b], self.Z[a:b], self.w[a:b, None]
            U = Zb @ Kp.T
            U += hp
            U *= -Sb                                   # u = −sᵢfᵢ
            new = np.maximum(shift, U.max(axis=0))
            rescale = np.exp(shift - new)              # 0 on the first block
            T *= rescale
            gh *= rescale
            gK *= rescale[:, None]
            shift = new
            U -= shift
            np.exp(U, out=U)
            U *= wb                                    # wμ e^{u − a}
            T += U.sum(axis=0)
            U *= Sb                                    # wμ e^{u − a} sᵢ
            gh -= U.sum(axis=0)
            gK -= U.T @ Zb
        return shift + np.log(T) - math.log(self.total), gh / T, gK / T[:, None]

    def data_terms(self, theta):
        """(Σᵢ ln Sᵢ or Σᵢ Sᵢ, its gradient with respect to h' (n,) and K' (n, n))."""
        log_s, gh, gK = self.screening_terms(theta)
        if self.log:
            return float(np.sum(log_s)), gh, gK
        Si = np.exp(log_s)
        return float(np.sum(Si)), gh * Si, gK * Si[:, None]

    def __call__(self, theta):
        """(objective, gradient) in the θ coordinates, for a minimiser."""
        self.n_eval += 1
        value, gh, gK = self.data_terms(theta)
        value += self.l1 * float(self.pen_weight @ theta[self.n:].reshape(2, self.k).sum(axis=0))
        gKf = gK[self.free]
        pen = self.l1 * self.pen_weight
        return value, np.concatenate([gh, gKf + pen, pen - gKf])

    def original_gradient(self, theta):
        """Gradient of the unpenalised objective with respect to (h, Jᵢⱼ) at θ."""
        _, gh, gK = self.data_terms(theta)
        # (h', K') = (h + Jm, Jσ) ⇒ ∂/∂h = ∂/∂h' and ∂/∂Jᵢⱼ = mⱼ ∂/∂h'ᵢ + σⱼ ∂/∂K'ᵢⱼ.
        gJ = np.outer(gh, self.mean) + gK * self.sigma[None, :]
        np.fill_diagonal(gJ, 0.0)
        return gh, gJ


def _optimality_violation(gh, gJ, J, l1, free):
    """max over the fitted parameters of the KKT residual of min f + l1 Σ|Jᵢⱼ| (see :class:`ISInfo`)."""
    resid = np.where(J != 0, np.abs(gJ + l1 * np.sign(J)), np.maximum(np.abs(gJ) - l1, 0.0))
    return float(max(np.max(np.abs(gh), initial=0.0), np.max(resid[free], initial=0.0)))


def fit_interaction_screening(X, *, log=True, l1="auto", support=None, tol=None, max_iter=1000, init=None,
                              warn=True):
    """RISE or logRISE pairwise Ising model of binary data: returns ``(h, J, info)``.

    Minimises, over h (N,) and J (N, N) with zero diagonal, every spin's penalised objective

        logRISE:  ln Sᵢ + λ Σ_{j≠i} |Jᵢⱼ|      RISE:  Sᵢ + λ Σ_{j≠i} |Jᵢⱼ|,
        Sᵢ = (1/M) Σ_μ exp(−sᵢ^μ (hᵢ + Σ_{j≠i} Jᵢⱼsⱼ^μ)),

    all N problems at once with scipy's L-BFGS-B (J = P − Q, P, Q ≥ 0, an exact smooth form of
    the L1 term), and returns h and J = (J + Jᵀ)/2 (the asymmetric rows are kept in
    ``info.J_asymmetric``).  See the module docstring for the objective and the solver.

    Parameters
    ----------
    X : (M, N) array of ±1 spins or 0/1 values (s = 2x − 1).
    log : True for logRISE (Lokhov et al. 2018), False for RISE (Vuffray et al. 2016).
    l1 : λ, the L1 penalty on the couplings (per spin, on the scale of ln Sᵢ or Sᵢ); "auto" →
        λ = c √(ln(N²/δ)/M) with δ = 0.05, c = 0.8 (logRISE) or 0.4 (RISE) (:func:`default_l1`);
        0 → none (a good choice for dense models; see the module docstring).
    support : optional boolean (N, N) matrix: only the Jᵢⱼ with ``support[i, j]`` are fitted,
        the others are held at 0 (the diagonal is ignored).  With ``l1=0`` and the graph of a
        penalised fit (:func:`recovered_graph`) this is the second, unpenalised step of
        Lokhov et al. 2018, which removes the L1 shrinkage from the kept couplings.
    tol : stop when every component of the projected gradient in the solver's scaled
        coordinates (curvature per parameter of order 1) is below ``tol``.  None → 0.01/√M, about 1 %
        of the statistical error of a parameter.  A line search that fails within 10·tol also
        counts as converged.  ``info.grad_max`` reports the optimality residual in (h, J).
    max_iter : L-BFGS iterations at most.
    init : optional start, a PairwiseIsing or an (h, J) pair; default the independent-spin
        model hᵢ = artanh mᵢ, J = 0 (the RISE and logRISE minimiser at J = 0).
    warn : emit RuntimeWarnings for constant spins, non-convergence and divergence.

    ``info`` is an :class:`ISInfo` (method, iterations, converged, objective, l1, grad_max, ...).
    Input errors are those of :func:`~inverse_ising.pseudolikelihood.fit_pseudolikelihood`
    (the same checks of X).  Constant spins: decoupled, field ±½ ln(4M − 1), RuntimeWarning
    (module docstring).
    """
    t0 = time.perf_counter()
    S = _as_data(X)
    M, N = S.shape
    if not isinstance(log, (bool, np.bool_)):
        raise InputError(f"log must be True (logRISE) or False (RISE), got {log!r}")
    method = "logrise" if log else "rise"
    if isinstance(l1, str):
        if l1 != "auto":
            raise InputError(f"l1 must be 'auto' or a number >= 0, got {l1!r}")
        l1 = default_l1(N, M, log)
    l1 = as_scalar(l1, "l1")
    if l1 < 0:
        raise InputError(f"l1 must be >= 0, got {l1}")
    if support is None:
        support = np.ones((N, N), dtype=bool)
    else:
        support = np.asarray(support)
        if support.shape != (N, N) or support.dtype != bool:
            raise InputError(f"support must be a boolean ({N}, {N}) matrix to match X, got "
                             f"{support.dtype} of shape {support.shape}")
    max_iter = as_positive_int(max_iter, "max_iter")
    tol = 0.01 / math.sqrt(M) if tol is None else as_scalar(tol, "tol")
    if tol <= 0:
        raise InputError(f"tol must be positive, got {tol}")

    U, counts = _unique_rows(S)
    S, w = (U, counts) if U.shape[0] <= COMPRESS_RATIO * M else (S, np.ones(M))
    never, always = _constant_spins(S, w)
    constant = np.union1d(never, always)
    h = np.zeros(N)
    J_rows = np.zeros((N, N))
    lone_field = 0.5 * math.log(4.0 * M - 1.0)   # artanh(1 − 1/(2M))
    h[never], h[always] = -lone_field, lone_field
    if constant.size and warn:
        parts = []
        if never.size:
            parts.append(f"never +1 (never fires): {never[:10].tolist()}{' ...' if never.size > 10 else ''}")
        if always.size:
            parts.append(f"always +1: {always[:10].tolist()}{' ...' if always.size > 10 else ''}")
        warnings.warn("interaction screening: spins " + "; ".join(parts) + " — they are decoupled (J = 0) and "
                      f"their fields set to ±½ ln(4M − 1) = ±{lone_field:.3g}, as if the other state had been seen "
                      "half a time (unpenalised, they are infinite)", RuntimeWarning, stacklevel=2)
    # Sᵢ of a constant spin at that field: e^{−|hᵢ|} = 1/√(4M − 1).
    const_value = constant.size * (-lone_field if log else math.exp(-lone_field))

    active = np.setdiff1d(np.arange(N), constant)
    if active.size:
        obj = _Objective(np.ascontiguousarray(S[:, active]), w, l1, log, support[np.ix_(active, active)])
        if init is None:
            m = np.clip(obj.mean, -1 + 1.0 / (2 * M), 1 - 1.0 / (2 * M))
            theta0 = obj.from_original(np.arctanh(m), np.zeros((active.size, active.size)))
        else:
            h0, J0 = (init.h, init.J) if isinstance(init, PairwiseIsing) else init
            h0, J0 = np.asarray(h0, dtype=float), np.asarray(J0, dtype=float)
            if h0.shape != (N,) or J0.shape != (N, N) or not (np.all(np.isfinite(h0)) and np.all(np.isfinite(J0))):
                raise InputError(f"init must be finite (h, J) of shapes ({N},), ({N}, {N}) to match X")
            theta0 = obj.from_original(h0[active], J0[np.ix_(active, active)])
        with blas_threads(1 if active.size <= SINGLE_THREAD_MAX_SPINS else None):
            res = minimize(obj, theta0, jac=True, method="L-BFGS-B", bounds=obj.bounds,
                           options={"maxiter": max_iter, "maxcor": 20, "gtol": tol, "ftol": 1e-14})
            h_a, J_a = obj.to_original(res.x)
            gh, gJ = obj.original_gradient(res.x)
        h[active] = h_a
        J_rows[np.ix_(active, active)] = J_a
        grad_max = _optimality_violation(gh, gJ, J_a, l1, obj.free)
        objective = float(res.fun) + const_value
        # Projected gradient of the bound-constrained problem, as L-BFGS-B tests it.
        x, g = res.x, res.jac
        proj = np.where((x <= 0) & (g > 0) & (obj.bounds.lb == 0), 0.0, g)
        converged = bool(res.success) or float(np.max(np.abs(proj))) <= 10 * tol
        nit, n_eval, message = int(res.nit), obj.n_eval, str(res.message)
    else:
        grad_max, objective, converged, nit, n_eval, message = 0.0, const_value, True, 0, 0, "all spins constant"
    pen = l1 * float(np.abs(J_rows).sum())
    if not converged and warn:
        warnings.warn(f"interaction screening stopped after {nit} iterations without converging "
                      f"({message}; optimality residual {grad_max:.3g})", RuntimeWarning, stacklevel=2)
    # Pairs with a constant spin are decoupled, and pairs outside the support are not fitted.
    unseen = [(i, j, a, b) for i, j, a, b in (_unseen_joint_states(S, w) if l1 == 0 else [])
              if (support[i, j] or support[j, i]) and i not in constant and j not in constant]
    if unseen:
        # As for pseudo-likelihood: lowering Jᵢⱼ and hᵢ together lowers Sᵢ for ever when (+1, +1) is never seen.
        converged = False
        if warn:
            i, j, a, b = unseen[0]
            warnings.warn(
                f"interaction screening with l1 = 0 has no finite optimum: {len(unseen)} pair(s) never take one "
                f"of their four joint states (e.g. spins {i} and {j} are never ({a:+d}, {b:+d}) together), so "
                f"their couplings diverge (here max |J| = {np.max(np.abs(J_rows)):.3g}, growing as tol shrinks); "
                f"pass l1 > 0", RuntimeWarning, stacklevel=2)
    info = ISInfo(
        method=method, iterations=nit, converged=converged, objective=objective, screening=objective - pen,
        l1=float(l1), grad_max=grad_max, n_evaluations=n_eval, n_samples=M, n_unique=int(S.shape[0]),
        seconds=time.perf_counter() - t0, message=message, J_asymmetric=J_rows,
    )
    return h, 0.5 * (J_rows + J_rows.T), info


def recovered_graph(J, threshold=None):
    """The edges of a coupling estimate: a symmetric boolean (N, N) matrix, zero diagonal.

    Edge (i, j) ⇔ |Jᵢⱼ| > ``threshold``.  Pass threshold = κ/2 when every true coupling is
    known to have |Jᵢⱼ| ≥ κ (the rule of Vuffray et al. 2016 and Lokhov et al. 2018, which
    recovers the graph once every estimate is within κ/2 of the truth).  ``threshold=None``
    (κ unknown) uses the largest gap: with the values |Jᵢⱼ|, i < j, sorted together with 0,
    the threshold is the midpoint of the largest difference between neighbours.  It recovers
    the graph when the estimates form two separated groups — noise around 0 and the couplings
    — as for a sparse model sampled enough; on a model whose couplings spread continuously
    (a spin glass with Gaussian couplings) the split it finds is arbitrary, and a graph
    with no edge at all cannot be told from noise by it.  J must be symmetric with a zero
    diagonal (symmetrise an asymmetric estimate first).
    """
    J = as_coupling_matrix(J)
    A = np.abs(J)
    if threshold is None:
        values = np.sort(np.concatenate([[0.0], A[np.triu_indices(J.shape[0], 1)]]))
        k = int(np.argmax(np.diff(values))) if values.size > 1 else 0
        threshold = 0.5 * (values[k] + values[k + 1]) if values.size > 1 else 0.0
    threshold = as_scalar(threshold, "threshold")
    if threshold < 0:
        raise InputError(f"threshold must be >= 0, got {threshold}")
    graph = A > threshold
    np.fill_diagonal(graph, False)
    return graph


def random_regular_graph(n, degree, seed=None, max_tries=10_000):
    """A uniformly random simple ``degree``-regular graph on ``n`` vertices, as a boolean adjacency.

    The pairing model: n·degree stubs are shuffled and joined in consecutive pairs, and the draw
    is repeated until it has no self-loop and no repeated edge (each simple graph is equally
    likely; a draw succeeds with probability ≈ exp(−(d² − 1)/4), 14 % for d = 3).  For planted
    sparse models in tests and benchmarks of structure recovery.
    """
    n = as_positive_int(n, "n", minimum=2)
    degree = as_positive_int(degree, "degree", minimum=1)
    if degree >= n or (n * degree) % 2:
        raise InputError(f"no simple {degree}-regular graph on {n} vertices (need degree < n and n·degree even)")
    rng = np.random.default_rng(seed)
    stubs = np.repeat(np.arange(n), degree)
    for _ in range(max_tries):
        a, b = rng.permutation(stubs).reshape(-1, 2).T
        adj = np.zeros((n, n), dtype=np.int64)
        np.add.at(adj, (a, b), 1)
        adj += adj.T
        if not np.any(a == b) and adj.max() == 1:
            return adj.astype(bool)
    raise InputError(f"no simple {degree}-regular graph on {n} vertices found in {max_tries} draws")
