"""Inference of the kinetic (non-equilibrium) Ising model from a spike raster.

Model (SPEC §1, :class:`inverse_ising.models.KineticIsing`): parallel Glauber dynamics

    P(s(t+1) | s(t)) = Πᵢ exp(sᵢ(t+1) Hᵢ(t)) / (2 cosh Hᵢ(t)),   Hᵢ(t) = hᵢ + Σⱼ Jᵢⱼ sⱼ(t),

with any (asymmetric) J; Jᵢⱼ is the influence of j at time t on i at time t + 1.

Maximum likelihood (``method="ml"``). Over the n transitions (t → t + 1) inside the trials the
log-likelihood and its derivatives are

    L(h, J)   = Σₜ Σᵢ [sᵢ(t+1) Hᵢ(t) − ln 2cosh Hᵢ(t)],
    ∂L/∂hᵢ    = Σₜ [sᵢ(t+1) − tanh Hᵢ(t)],
    ∂L/∂Jᵢⱼ   = Σₜ [sᵢ(t+1) − tanh Hᵢ(t)] sⱼ(t),
    ∂²L/∂θᵢ∂θᵢ' = −Σₜ [1 − tanh² Hᵢ(t)] x(t) x(t)ᵀ,  x(t) = (1, s(t)),  θᵢ = (hᵢ, Jᵢ·),

so L is concave and separates over i: row i of (h, J) is a logistic regression of sᵢ(t+1) on s(t).
The fit maximises L − l2 ‖J‖² − l2_h ‖h‖² (a Gaussian prior on each coupling of variance
1/(2·l2); its weight relative to the data falls like 1/T). The terms Σₜ sᵢ(t+1)Hᵢ(t) and
Σₜ sᵢ(t+1)sⱼ(t) are linear in the parameters and computed once; each evaluation then costs two
float32 matrix products over the raster (H = c + U (2J)ᵀ with U the 0/1 form of the raster, and
tanh(H)ᵀ U) in blocks of rows shared among threads, one tanh and one log per entry
(ln 2cosh H = |H| + ln 2 − ln(1 + |tanh H|)), with float64 accumulation (:class:`Transitions`).
The optimiser (:func:`minimize_blocks`) is L-BFGS vectorised over the rows, with a memory and a
step length per row and a line search that uses only directional derivatives (float32 gradients
are far more precise than float32 values), in Jacobi-preconditioned coordinates: fields centred,
bᵢ = hᵢ + Σⱼ Jᵢⱼ m̄ⱼ (H = b + J (s − m̄)), and every variable scaled by the square root of the
exact Hessian diagonal at the start, Σₜ wᵢ(t) and Σₜ wᵢ(t)(sⱼ(t) − m̄ⱼ)², wᵢ = 1 − tanh² Hᵢ.
Symmetric J: the upper triangle is the free parameter (one block). See docs/kinetic.md.

Mean-field inversions (Roudi & Hertz 2011, PRL 106, 048702), from the means mᵢ, the equal-time
connected correlations C and the delayed ones D = ⟨δs(t+1) δs(t)ᵀ⟩ (:mod:`inverse_ising.temporal`):

* naive mean field (``"mean_field"``): D = A J C with Aᵢᵢ = 1 − mᵢ², so J = A⁻¹ D C⁻¹, and
  hᵢ = atanh mᵢ − Σⱼ Jᵢⱼ mⱼ (from mᵢ = tanh(hᵢ + Σⱼ Jᵢⱼ mⱼ));
* TAP (``"tap"``): Aᵢᵢ = (1 − mᵢ²)(1 − Fᵢ) with Fᵢ = (1 − mᵢ²) Σⱼ Jᵢⱼ² (1 − mⱼ²). Writing
  J = A⁻¹ B with B = D C⁻¹, Jᵢⱼ = Bᵢⱼ / [(1 − mᵢ²)(1 − Fᵢ)] and therefore
  Fᵢ (1 − Fᵢ)² = Σⱼ Bᵢⱼ² (1 − mⱼ²) / (1 − mᵢ²) = (1 − mᵢ²) Σⱼ (Jᵢⱼⁿᴹᶠ)² (1 − mⱼ²),
  solved on the physical branch 0 ≤ Fᵢ ≤ 1/3 (the branch continuous with J → 0; no solution
  when the right side exceeds 4/27, where Fᵢ = 1/3 is used with a warning). Fields from
  mᵢ = tanh(hᵢ + Σⱼ Jᵢⱼ mⱼ − mᵢ Σⱼ Jᵢⱼ² (1 − mⱼ²)).

Without self-couplings (the default, Jᵢᵢ = 0) row i of B is the regression on the other neurons,
Bᵢ,₋ᵢ = Dᵢ,₋ᵢ (C₋ᵢ,₋ᵢ)⁻¹, computed for all rows at once from Q = C⁻¹ by the Schur complement:
Bᵢₖ = (D Q)ᵢₖ − (D Q)ᵢᵢ Qᵢₖ / Qᵢᵢ. The l2 penalty enters as a ridge: C → C + 2·l2/(n (1 − mᵢ²)) for row i.
"""
import math
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .backends.threads import default_threads
from .blas import blas_threads
from .errors import InputError
from .io import option_name
from .models import KineticIsing
from .temporal import as_trials, block_length, lag_ranges, pair_blocks, shifted

METHODS = ("ml", "mean_field", "tap")
DEFAULT_L2 = 1.0
_BLOCK_ROWS = 4096          # rows per block of the likelihood evaluation (H stays in cache)
_EXACT_ROWS = 1 << 16       # rows per float32 block of the one-off sums (exact for ±1 products)
_DOUBLE_LIMIT = 1_000_000   # "auto" precision: float64 design up to this many raster entries
_LN2 = math.log(2.0)


# ----------------------------------------------------------------------------------------------
# Result
# ----------------------------------------------------------------------------------------------
@dataclass
class KineticFit:
    """The result of :func:`fit_kinetic`.

    Attributes
    ----------
    model : the fitted :class:`KineticIsing`.
    method : "ml", "mean_field" or "tap".
    log_likelihood : (1/n) Σₜ ln P(s(t+1) | s(t)) on the training transitions, in nats per time
        bin (summed over neurons; no penalty).
    converged : whether the optimiser met its tolerance (always True for the closed-form methods).
    n_iterations : optimiser iterations (0 for the closed-form methods).
    history : arrays per iteration: ``log_likelihood`` (nats per bin), ``objective`` (penalised,
        per bin), ``gradient`` (largest preconditioned gradient component times √n: the remaining
        optimisation error in units of the statistical standard error).
    meta : JSON-serialisable settings and diagnostics (method, l2, iterations, converged, ...).
    """

    model: KineticIsing
    method: str
    log_likelihood: float
    converged: bool
    n_iterations: int
    history: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    @property
    def h(self):
        return self.model.h

    @property
    def J(self):
        return self.model.J

    def save(self, path, force=False):
        """Write the fit with :func:`inverse_ising.io.save_model` (atomic; refuses to overwrite
        an existing file unless ``force``)."""
        from .io import save_model

        meta = dict(self.meta)
        meta.update(method=self.method, iterations=int(self.n_iterations), converged=bool(self.converged),
                    log_likelihood=float(self.log_likelihood))
        save_model(path, self.model, meta=meta, history=self.history, force=force)

    def __repr__(self):
        return (f"KineticFit(method={self.method!r}, N={self.model.n_spins}, "
                f"log_likelihood={self.log_likelihood:.6g} nats/bin, converged={self.converged}, "
                f"n_iterations={self.n_iterations})")


# ----------------------------------------------------------------------------------------------
# The data of the likelihood
# ----------------------------------------------------------------------------------------------
class Transitions:
    """The transitions x(t) = s(t) → y(t) = s(t+1) inside the trials of a raster.

    Holds one copy of the raster in the working precision (float32 or float64; ±1 is exact in
    both) and the sums that do not depend on the parameters, in float64:
    Σₜ y(t), Σₜ x(t), Σₜ y(t) x(t)ᵀ and Σₜ x(t) x(t)ᵀ. The targets are the same array one row
    later, so no second copy is made. Blocks of rows are shared among ``n_threads`` worker
    threads (numpy releases the GIL), each with single-threaded BLAS.
    """

    def __init__(self, spins, trial_starts, dtype=np.float32, block_rows=_BLOCK_ROWS, n_threads=None):
        self.T, self.N = spins.shape
        self.dtype = np.dtype(dtype)
        self.ranges = lag_ranges(trial_starts, self.T, 1)
        self.n = int(sum(b - a for a, b in self.ranges))
        self.block_rows = int(block_rows)
        self.n_threads = _default_threads() if n_threads is None else max(1, int(n_threads))
        self.U = (spins > 0).astype(self.dtype)   # the design in 0/1 form, u = (s + 1)/2
        self.blocks = pair_blocks(self.ranges, self.block_rows)
        self.max_block = max(block_length(b) for b in self.blocks)
        parts = self._map(self._sums_part, pair_blocks(self.ranges, _EXACT_ROWS), spins)
        self.ysum, self.xsum, self.YX, self.XX = (sum(p[k] for p in parts) for k in range(4))

    def _map(self, func, blocks, *args):
        """Run ``func(blocks_k, *args)`` on ``n_threads`` interleaved shares of the blocks, with
        single-threaded BLAS (the blocks are small; threads are ours)."""
        k = min(self.n_threads, len(blocks))
        with blas_threads(1):
            if k <= 1:
                return [func(blocks, *args)]
            with ThreadPoolExecutor(max_workers=k) as pool:
                return list(pool.map(lambda share: func(share, *args), [blocks[i::k] for i in range(k)]))

    def _sums_part(self, blocks, spins):
        N = self.N
        ysum, xsum, YX, XX = np.zeros(N), np.zeros(N), np.zeros((N, N)), np.zeros((N, N))
        for blk in blocks:
            x = spins[blk].astype(np.float32)
            y = spins[shifted(blk, 1)].astype(np.float32)
            ysum += y.sum(axis=0, dtype=np.float64)
            xsum += x.sum(axis=0, dtype=np.float64)
            YX += y.T @ x
            XX += x.T @ x
        return ysum, xsum, YX, XX

    @property
    def x_mean(self):
        return self.xsum / self.n

    @property
    def y_mean(self):
        return self.ysum / self.n

    def _evaluate_part(self, blocks, J2t, cd, value, gradient, weights):
        """Per-neuron block sums with H = c + u (2J)ᵀ: Σₜ|H|, Σₜ ln(1 + |tanh H|), Σₜ tanh H,
        Σₜ tanh² H and Σₜ tanh(H) uᵀ."""
        k = J2t.shape[1]
        dt, rows = self.dtype, self.max_block
        Hb = np.empty((rows, k), dtype=dt)
        Tb = np.empty((rows, k), dtype=dt)
        abs_sum, log_sum, tsum, t2sum = np.zeros(k), np.zeros(k), np.zeros(k), np.zeros(k)
        TU = np.zeros((k, self.N))
        WU = np.zeros((k, self.N)) if weights else None
        for blk in blocks:
            r = block_length(blk)
            u = self.U[blk]
            H = np.matmul(u, J2t, out=Hb[:r])
            H += cd
            t = np.tanh(H, out=Tb[:r])
            if gradient:
                TU += t.T @ u
                tsum += t.sum(axis=0, dtype=np.float64)
            if weights:
                w = 1.0 - t * t
                t2sum += w.sum(axis=0, dtype=np.float64)
                WU += w.T @ u
            if value:
                np.abs(H, out=H)
                abs_sum += H.sum(axis=0, dtype=np.float64)
                np.abs(t, out=t)
                t += 1
                np.log(t, out=t)
                log_sum += t.sum(axis=0, dtype=np.float64)
        return abs_sum, log_sum, tsum, t2sum, TU, WU

    def evaluate(self, h, J, rows=None, value=True, gradient=True, weights=False):
        """The log-likelihood of neurons ``rows`` (default all) summed over the transitions,
        Lᵢ = Σₜ [sᵢ(t+1)Hᵢ(t) − ln 2cosh Hᵢ(t)], and as asked its gradient and the curvature
        weights wᵢ(t) = 1 − tanh² Hᵢ(t) summed, Σₜ wᵢ(t), and against the inputs, Σₜ wᵢ(t) uⱼ(t).

        ``h`` (k,) and ``J`` (k, N) are the fields and coupling rows of those neurons (or the full
        (N,) and (N, N) when ``rows`` is None). Returns a dict with ``ll`` (k,) when ``value``,
        ``gh`` (k,) and ``gJ`` (k, N) when ``gradient``, ``w`` (k,) and ``wu`` (k, N) when ``weights``
        (u = (s + 1)/2)).
        """
        # H = h + J s = c + (2J) u with c = h − J·1 and u = (s + 1)/2 ∈ {0, 1}: silent neurons add
        # exact zeros, so the float32 rounding of H does not pile up coherently over the many
        # bins in which most neurons are silent. The parameters are rounded to the working
        # precision first and the linear terms use the same rounded values, so that ll is the
        # log-likelihood of one well-defined point (mixing float64 h in the linear term with
        # float32 h inside ln cosh shifts ll by ~1e-6 per bin).
        rows = np.arange(self.N) if rows is None else np.asarray(rows)
        dt = self.dtype
        J2t = np.ascontiguousarray(2.0 * np.asarray(J, dtype=float).reshape(rows.size, self.N).T, dtype=dt)
        J = 0.5 * J2t.T.astype(float)
        cd = (np.asarray(h, dtype=float).reshape(rows.size) - J.sum(axis=1)).astype(dt)
        h = cd.astype(float) + J.sum(axis=1)
        parts = self._map(self._evaluate_part, self.blocks, J2t, cd, value, gradient, weights)
        abs_sum, log_sum, tsum, wsum, TU, WU = (
            None if parts[0][k] is None else sum(p[k] for p in parts) for k in range(6))
        ysum, YX = self.ysum[rows], self.YX[rows]
        out = {}
        if value:
            # Σₜ ln 2cosh Hᵢ = Σₜ|Hᵢ| + n ln 2 − Σₜ ln(1 + |tanh Hᵢ|)
            out["ll"] = h * ysum + np.einsum("ij,ij->i", J, YX) - (abs_sum + self.n * _LN2 - log_sum)
        if gradient:
            out["gh"] = ysum - tsum
            # Σₜ tanh(H) sᵀ = 2 Σₜ tanh(H) uᵀ − Σₜ tanh(H) 1ᵀ
            out["gJ"] = YX - (2.0 * TU - tsum[:, None])
        if weights:
            out["w"], out["wu"] = wsum, WU
        return out

    def total(self, h, J):
        """L(h, J) over all neurons and transitions (float)."""
        return float(self.evaluate(h, J, gradient=False)["ll"].sum())


def _default_threads():
    return min(default_threads(), 8)


def _precision_dtype(precision, T, N):
    if precision == "auto":
        return np.float64 if T * N <= _DOUBLE_LIMIT else np.float32
    if precision in ("single", "float32"):
        return np.float32
    if precision in ("double", "float64"):
        return np.float64
    raise InputError(f"precision must be 'auto', 'single' or 'double', got {precision!r}")


# ----------------------------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------------------------
def _prepare(S, trial_starts, name="spins", for_fit=True):
    """Validate a raster for kinetic inference: (spins, starts, n_transitions).

    ``for_fit=False`` (evaluating a given model) only needs one transition."""
    if not isinstance(S, (list, tuple)) and np.ndim(S) == 1:
        raise InputError(
            f"{name} is 1-D (shape {np.shape(S)}); a raster must be 2-D (time bins × neurons), "
            f"e.g. S.reshape(-1, 1) for one neuron"
        )
    spins, starts = as_trials(S, trial_starts, name=name)
    T, N = spins.shape
    if T == 1:
        raise InputError(
            f"{name} has a single time step (shape {spins.shape}): a kinetic model needs at least two "
            f"consecutive time bins (if the rows are neurons, transpose the raster)"
        )
    n = sum(b - a for a, b in lag_ranges(starts, T, 1))
    if n == 0:
        raise InputError(f"{name}: every trial is a single time bin, so there is no transition t → t+1 to fit")
    if not for_fit:
        return spins, starts, n
    if N < 2:
        raise InputError(f"{name} has {N} neuron (column); a kinetic model, of couplings between neurons, needs at least 2")
    if starts.size == 1 and T < N:
        raise InputError(
            f"{name} has shape {spins.shape}: {T} time bins (rows) but {N} neurons (columns). More "
            f"neurons than time steps means the raster is almost certainly transposed; pass S.T "
            f"(or orientation='neurons-by-bins' when reading a file), rows must be time bins"
        )
    if n <= N:
        raise InputError(
            f"{name}: only {n} transitions for {N} neurons; each neuron's row of couplings needs more "
            f"transitions than neurons (check the orientation: rows must be time bins)"
        )
    return spins, starts, n


def _constant_neurons(data):
    """Neurons whose target state sᵢ(t+1) never changes over the transitions."""
    ymean = data.y_mean
    return np.flatnonzero(np.abs(ymean) >= 1.0), ymean


def _describe(idx, ymean):
    """"neuron 3 (always -1) never changes" or "neurons 0 (always -1) and 1 (always +1) never change"."""
    parts = [f"{int(i)} (always {'+1' if ymean[i] > 0 else '-1'})" for i in idx[:8]]
    if idx.size > 8:
        parts.append(f"{idx.size - 8} more")
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"neuron {listed} never changes" if idx.size == 1 else f"neurons {listed} never change"


def _as_nonneg(x, name):
    try:
        x = float(x)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a non-negative number, got {x!r}") from None
    if not np.isfinite(x) or x < 0:
        raise InputError(f"{name} must be a non-negative finite number, got {x!r}")
    return x


# ----------------------------------------------------------------------------------------------
# Mean-field inversions
# ----------------------------------------------------------------------------------------------
def _regression_rows(D, C, m, n, l2, self_couplings):
    """B with rows Bᵢ = Dᵢ (C + μᵢ I)⁻¹ (μᵢ = 2·l2 / (n (1 − mᵢ²))), restricted to j ≠ i without
    self-couplings (Schur complement), all rows at once through the eigenvectors of C."""
    lam, U = np.linalg.eigh(C)
    a = 1.0 - m * m
    mu = 2.0 * l2 / (n * a)
    if lam.min() + mu.min() <= 1e-12 * max(1.0, lam.max()):
        raise InputError(
            "the equal-time correlation matrix C is singular (some neurons are perfectly correlated "
            "or never change); pass l2 > 0 or remove the redundant neurons"
        )
    inv = 1.0 / (lam[None, :] + mu[:, None])              # row i: 1/(λ + μᵢ)
    P = ((D @ U) * inv) @ U.T                              # Pᵢ = Dᵢ Qᵢ, Qᵢ = (C + μᵢ)⁻¹
    if self_couplings:
        return P
    R = (U * inv) @ U.T                                    # Rᵢₖ = (Qᵢ)ᵢₖ
    diagR = np.diag(R)
    B = P - (np.diag(P) / diagR)[:, None] * R
    np.fill_diagonal(B, 0.0)
    return B


def _solve_tap_F(c):
    """The root of F (1 − F)² = c on [0, 1/3] (vectorised bisection); F = 1/3 where c > 4/27."""
    c = np.asarray(c, dtype=float)
    lo = np.zeros_like(c)
    hi = np.full_like(c, 1.0 / 3.0)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        below = mid * (1.0 - mid) ** 2 < c
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def mean_field_couplings(m, C, D, method="mean_field", n=None, l2=0.0, self_couplings=False):
    """Naive mean-field or TAP estimate (h, J) from the statistics m, C, D (see the module text).

    ``n`` (number of transitions) scales the l2 ridge; with ``n=None`` there is no ridge.
    Returns (h, J, info) with info["F"] (TAP correction Fᵢ, zeros for naive mean field).
    """
    if method not in ("mean_field", "tap"):
        raise InputError(f"mean-field method must be 'mean_field' or 'tap', got {method!r}")
    m = np.asarray(m, dtype=float)
    a = 1.0 - m * m
    if np.any(a <= 0):
        i = int(np.argmin(a))
        raise InputError(f"neuron {i} never changes (m = {m[i]:+g}); mean-field inversion needs 1 − mᵢ² > 0")
    B = _regression_rows(np.asarray(D, float), np.asarray(C, float), m, n or np.inf, l2 if n else 0.0, self_couplings)
    info = {"F": np.zeros_like(m)}
    if method == "mean_field":
        J = B / a[:, None]
        return mean_field_fields(m, J, method), J, info
    c = (B * B) @ a / a
    F = _solve_tap_F(c)
    bad = np.flatnonzero(c > 4.0 / 27.0)
    if bad.size:
        warnings.warn(
            f"TAP: no solution of F(1-F)^2 = c for {bad.size} neuron(s) (first: {bad[:5].tolist()}): the "
            f"couplings are too strong for the TAP expansion; using the boundary F = 1/3 for them",
            stacklevel=3,
        )
    J = B / (a * (1.0 - F))[:, None]
    info["F"] = F
    return mean_field_fields(m, J, method), J, info


def mean_field_fields(m, J, method="mean_field"):
    """Fields from the stationary means: hᵢ = atanh mᵢ − Σⱼ Jᵢⱼ mⱼ (naive), plus the TAP
    (Onsager) term + mᵢ Σⱼ Jᵢⱼ² (1 − mⱼ²) for ``method="tap"``."""
    m = np.asarray(m, dtype=float)
    h = np.arctanh(m) - J @ m
    if method == "tap":
        h = h + m * ((J * J) @ (1.0 - m * m))
    return h


# ----------------------------------------------------------------------------------------------
# Maximum likelihood
# ----------------------------------------------------------------------------------------------
class _Coordinates:
    """Preconditioned optimisation variables x (blocks × d) ↔ (h, J).

    Fields are centred, bᵢ = hᵢ + Σⱼ Jᵢⱼ m̄ⱼ (so H = b + J (s − m̄), m̄ the mean source state), and
    every variable is divided by σ, the inverse square root of the diagonal of the Hessian of
    −(penalised log-likelihood)/n at the starting point (Jacobi preconditioning):
    σ_bᵢ⁻² = Σₜ wᵢ(t)/n + 2·l2_h/n and σ_Jᵢⱼ⁻² = Σₜ wᵢ(t) (sⱼ(t) − m̄ⱼ)²/n + 2·l2/n with
    wᵢ(t) = 1 − tanh² Hᵢ(t). In these units the Hessian is close to the identity and the
    statistical standard error of every variable is about 1/√n. The problem separates into one
    block per neuron (row i: x[i] = (bᵢ/σ_bᵢ, Jᵢ·/σ_Jᵢ·), Jᵢᵢ held at 0 without self-couplings).
    With a symmetric J there is a single block: the fields, then the upper triangle, with
    σ_Jᵢⱼ⁻² = dᵢⱼ + dⱼᵢ + 4·l2/n (a shared coupling enters rows i and j).
    """

    def __init__(self, N, mbar, wsum, wu, n, l2, l2_h, symmetric, self_couplings):
        self.N, self.m, self.symmetric = N, mbar, symmetric
        # Σₜ wᵢ(t) (sⱼ − m̄ⱼ)² with (s − m̄)² = (1 + m̄)² − 4 m̄ u for u = (s + 1)/2 ∈ {0, 1}
        d = ((1.0 + mbar) ** 2)[None, :] * wsum[:, None] - 4.0 * mbar[None, :] * wu
        d = np.clip(d / n, 1e-8, None)
        self.sb = 1.0 / np.sqrt(np.clip(wsum / n, 1e-8, None) + 2.0 * l2_h / n)
        if symmetric:
            self.idx = np.triu_indices(N, 0 if self_couplings else 1)
            i, j = self.idx
            curv = np.where(i == j, d[i, j] + 2.0 * l2 / n, d[i, j] + d[j, i] + 4.0 * l2 / n)
            self.sJ = 1.0 / np.sqrt(curv)
            self.shape = (1, N + self.sJ.size)
            self.free = np.ones(self.shape, dtype=bool)
        else:
            self.sJ = 1.0 / np.sqrt(d + 2.0 * l2 / n)
            self.shape = (N, N + 1)
            self.free = np.ones(self.shape, dtype=bool)
            if not self_couplings:
                self.free[np.arange(N), 1 + np.arange(N)] = False

    def rows(self, blocks):
        """The neurons whose likelihood depends on these blocks."""
        return np.arange(self.N) if self.symmetric else np.asarray(blocks)

    def to_params(self, x, blocks):
        """(h, J) of the neurons ``rows(blocks)`` from their blocks x (k, d)."""
        N = self.N
        if self.symmetric:
            J = np.zeros((N, N))
            J[self.idx] = x[0, N:] * self.sJ
            J = J + J.T - np.diag(np.diag(J))
            return x[0, :N] * self.sb - J @ self.m, J
        J = x[:, 1:] * self.sJ[blocks]
        return x[:, 0] * self.sb[blocks] - J @ self.m, J

    def from_params(self, h, J):
        if self.symmetric:
            J = 0.5 * (J + J.T)
            return np.concatenate([(h + J @ self.m) / self.sb, J[self.idx] / self.sJ])[None, :]
        x = np.empty(self.shape)
        x[:, 0] = (h + J @ self.m) / self.sb
        x[:, 1:] = J / self.sJ
        return np.where(self.free, x, 0.0)

    def gradient(self, gh, gJ, blocks):
        """dF/dx of the blocks from dF/dh, dF/dJ of their neurons (h and J free)."""
        gJc = gJ - np.outer(gh, self.m)          # d/dJ at fixed b, since h = b − J m̄
        if self.symmetric:
            G = gJc + gJc.T
            np.fill_diagonal(G, np.diag(gJc))
            return np.concatenate([gh * self.sb, G[self.idx] * self.sJ])[None, :]
        g = np.empty((len(blocks), self.N + 1))
        g[:, 0] = gh * self.sb[blocks]
        g[:, 1:] = gJc * self.sJ[blocks]
        return np.where(self.free[blocks], g, 0.0)


def _dot(a, b):
    return np.einsum("ij,ij->i", a, b)


def minimize_blocks(fg, x0, gtol, max_iter=500, memory=10, callback=None, max_trials=20):
    """Minimise a convex F(x) = Σ_b F_b(x_b) over independent blocks (rows of x) by L-BFGS.

    ``fg(x_sub, blocks)`` returns (F_b, ∇F_b) for the listed blocks only, and nothing else is
    needed: each block keeps its own quasi-Newton memory and step length, and the line search
    uses only directional derivatives, φ'(α) = ∇F(x + αp)·p. By convexity φ' increases, so a
    step with φ'(α) ≤ 0 lowers F, and for near-quadratic F one with φ'(α) ≤ 0.9 |φ'(0)| lowers
    it too (trapezoid rule) while meeting the Wolfe curvature condition; overshooting steps are
    shortened by the secant root of φ'. Gradients (float64 sums of float32 products) are far
    more precise than values (the small difference of two large sums), so this converges to
    tolerances at which a value-based line search stalls. A block is done when
    max |∇F_b| ≤ gtol. ``callback(iteration, F, g, x)`` after each iteration.

    Returns (x, F (blocks,), g, n_iterations, converged, n_evaluations, message).
    """
    x = np.array(x0, dtype=float)
    B, d = x.shape
    all_blocks = np.arange(B)
    F, g = fg(x, all_blocks)
    n_eval = 1
    S = np.zeros((memory, B, d))
    Y = np.zeros((memory, B, d))
    rho = np.zeros((memory, B))
    gamma = np.ones(B)
    slot = 0
    message = "maximum number of iterations reached"
    iteration = 0
    stalled = np.zeros(B, dtype=bool)
    for iteration in range(1, max_iter + 1):
        active = np.flatnonzero((np.abs(g).max(axis=1) > gtol) & ~stalled)
        if active.size == 0:
            iteration -= 1
            break
        # two-loop recursion, newest pair first (empty slots have rho = 0 and drop out)
        q = g[active].copy()
        order = [(slot - 1 - k) % memory for k in range(memory)]
        coef = []
        for k in order:
            c = rho[k, active] * _dot(S[k, active], q)
            q -= c[:, None] * Y[k, active]
            coef.append(c)
        r = gamma[active, None] * q
        for k, c in zip(reversed(order), reversed(coef)):
            r += S[k, active] * (c - rho[k, active] * _dot(Y[k, active], r))[:, None]
        p = -r
        d0 = _dot(g[active], p)
        bad = ~(d0 < 0)
        if bad.any():                                     # not a descent direction: restart the block
            rho[:, active[bad]] = 0.0
            gamma[active[bad]] = 1.0
            p[bad] = -g[active[bad]]
            d0[bad] = -_dot(g[active[bad]], g[active[bad]])
        step = np.ones(active.size)
        pending = np.arange(active.size)
        x_new, F_new, g_new = x[active].copy(), F[active].copy(), g[active].copy()
        done = np.zeros(active.size, dtype=bool)
        for _ in range(max_trials):
            blocks = active[pending]
            xt = x[blocks] + step[pending, None] * p[pending]
            Ft, gt = fg(xt, blocks)
            n_eval += 1
            da = _dot(gt, p[pending])
            ok = np.isfinite(Ft) & np.isfinite(da) & (da <= 0.9 * np.abs(d0[pending]))
            acc = pending[ok]
            x_new[acc], F_new[acc], g_new[acc] = xt[ok], Ft[ok], gt[ok]
            done[acc] = True
            rej = pending[~ok]
            if rej.size == 0:
                break
            da_rej = np.where(np.isfinite(da[~ok]), da[~ok], np.inf)
            secant = d0[rej] / (d0[rej] - da_rej)             # in (0, 1): root of the linear φ'
            step[rej] *= np.clip(np.nan_to_num(secant, nan=0.1), 0.05, 0.95)
            pending = rej
        failed = active[~done]
        if failed.size:                                    # no acceptable step: forget the memory
            rho[:, failed] = 0.0
            gamma[failed] = 1.0
            stalled[failed] = np.abs(g[failed]).max(axis=1) <= 100 * gtol
        moved = active[done]
        sv = step[done, None] * p[done]
        yv = g_new[done] - g[moved]
        sy = _dot(sv, yv)
        good = sy > 1e-300
        rho[slot] = 0.0
        S[slot, moved], Y[slot, moved] = sv, yv
        rho[slot, moved[good]] = 1.0 / sy[good]
        gamma[moved[good]] = sy[good] / _dot(yv[good], yv[good])
        slot = (slot + 1) % memory
        x[moved], F[moved], g[moved] = x_new[done], F_new[done], g_new[done]
        if callback is not None:
            callback(iteration, F, g, x)
    converged = bool(np.all(np.abs(g).max(axis=1) <= gtol))
    if converged:
        message = "converged: every block has max |gradient| <= gtol"
    elif stalled.any() and np.all(stalled | (np.abs(g).max(axis=1) <= gtol)):
        message = "line search found no further decrease (rounding floor) within 100 gtol"
    return x, F, g, iteration, converged, n_eval, message


def _fit_ml(data, h0, J0, symmetric, self_couplings, l2, l2_h, max_iter, tol, progress, curvature=None):
    from .progress import progress_bar

    n, N = data.n, data.N
    if curvature is None:
        ev = data.evaluate(h0, J0, value=False, gradient=False, weights=True)
        curvature = (ev["w"], ev["wu"])
    coords = _Coordinates(N, data.x_mean, *curvature, n, l2, l2_h, symmetric, self_couplings)
    x0 = coords.from_params(h0, J0)
    gtol = tol / math.sqrt(n)
    hist = {"log_likelihood": [], "objective": [], "gradient": []}
    all_blocks = np.arange(coords.shape[0])

    def penalty(h, J):
        return l2 * np.einsum("ij,ij->i", J, J) + l2_h * h * h

    def fg(xs, blocks):
        h, J = coords.to_params(xs, blocks)
        ev = data.evaluate(h, J, rows=None if symmetric else blocks)
        F = -(ev["ll"] - penalty(h, J)) / n
        g = coords.gradient(-(ev["gh"] - 2.0 * l2_h * h) / n, -(ev["gJ"] - 2.0 * l2 * J) / n, blocks)
        return (np.array([F.sum()]) if symmetric else F), g

    with progress_bar(max_iter, "fitting kinetic Ising (ml)", progress, unit="iter") as bar:
        def callback(it, F, g, x):
            objective = -float(F.sum())
            gmax = float(np.abs(g).max()) * math.sqrt(n)
            hist["objective"].append(objective)
            hist["log_likelihood"].append(objective + float(penalty(*coords.to_params(x, all_blocks)).sum()) / n)
            hist["gradient"].append(gmax)
            bar.update(1)
            bar.set_postfix(loglik=f"{hist['log_likelihood'][-1]:.6f}", grad=f"{gmax:.2g}")

        x, F, g, nit, converged, n_eval, message = minimize_blocks(fg, x0, gtol, max_iter, callback=callback)
    h, J = coords.to_params(x, all_blocks)
    ll = -float(F.sum()) + float(penalty(h, J).sum()) / n
    info = {"message": message, "evaluations": int(n_eval),
            "final_gradient": float(np.abs(g).max()) * math.sqrt(n)}
    history = {k: np.asarray(v, dtype=float) for k, v in hist.items()}
    return h, J, ll, converged, int(nit), history, info


# ----------------------------------------------------------------------------------------------
# Public entry points
# ----------------------------------------------------------------------------------------------
def kinetic_log_likelihood(model, S, trial_starts=None, gradient=False, precision="auto"):
    """(1/n) Σₜ ln P(s(t+1) | s(t)) of ``model`` on a raster (nats per time bin; summed over
    neurons), over the n transitions inside trials (e.g. held-out data). With ``gradient=True``
    returns (value, ∂/∂h, ∂/∂J) of that mean."""
    if not isinstance(model, KineticIsing):
        raise InputError(f"kinetic_log_likelihood needs a KineticIsing model, got {model!r}")
    spins, starts, n = _prepare(S, trial_starts, for_fit=False)
    if spins.shape[1] != model.n_spins:
        raise InputError(f"the raster has {spins.shape[1]} neurons but the model has {model.n_spins}")
    data = Transitions(spins, starts, _precision_dtype(precision, *spins.shape))
    ev = data.evaluate(model.h, model.J, gradient=gradient)
    ll = float(ev["ll"].sum()) / n
    if not gradient:
        return ll
    return ll, ev["gh"] / n, ev["gJ"] / n


def fit_kinetic(S, method="ml", symmetric=False, l2=DEFAULT_L2, trial_starts=None, max_iter=500, tol=1e-2,
                progress=None, self_couplings=False, l2_h=0.0, init=None, precision="auto", check=True, seed=None):
    """Fit a :class:`KineticIsing` model to a raster; returns a :class:`KineticFit`.

    Parameters
    ----------
    S : (T, N) array of ±1 or 0/1 (rows are time bins), a list of (Tₖ, N) trials, or an
        (n_trials, T, N) array. No transition is formed across a trial boundary.
    method : "ml" (exact maximum likelihood, L-BFGS), "mean_field" (naive mean-field inversion,
        J = A⁻¹ D C⁻¹) or "tap" (TAP-corrected inversion); the formulas are in the module text.
    symmetric : constrain J = Jᵀ ("ml": the upper triangle is the free parameter and the gradient
        is symmetrised; mean-field methods: the estimate is symmetrised, (J + Jᵀ)/2).
    l2 : penalty l2·Σᵢⱼ Jᵢⱼ² subtracted from the total log-likelihood (default 1.0, a Gaussian
        prior of standard deviation 1/√2 on each coupling; it keeps couplings of pairs that
        never co-fire finite and its weight falls like 1/T). For the mean-field methods it enters
        as a ridge on C.
    trial_starts : row offsets where independent recordings begin (with a (T, N) array).
    max_iter, tol : "ml" stops when the largest preconditioned gradient component is below
        tol/√n, i.e. the remaining optimisation error is about tol standard errors.
    progress : None (a bar when stderr is a terminal), True or False.
    self_couplings : fit Jᵢᵢ (default False: Jᵢᵢ = 0, as in SPEC §1).
    l2_h : penalty l2_h·Σᵢ hᵢ² on the fields (default 0: fields are not penalised). A neuron that
        never changes has no finite maximum-likelihood field: that is an InputError unless
        ``l2_h > 0`` ("ml" only), which keeps its field finite and only warns.
    init : a KineticIsing to start "ml" from (default: the better of the naive mean-field
        estimate and the independent model, by log-likelihood).
    precision : "auto" (float64 up to 10⁶ raster entries, float32 beyond), "single", "double":
        the precision of the raster copy and the matrix products; sums are float64.
    check, seed : simulate the fitted model from the data's states and judge its equal-time
        statistics (:func:`inverse_ising.model_check.check_by_sampling`: runaway activity and
        P(K)), with ``seed`` (None: fresh entropy); the verdict goes to ``meta["check"]`` and a
        failure warns once. ``check=False`` skips it.
    """
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    l2 = _as_nonneg(l2, "l2")
    l2_h = _as_nonneg(l2_h, "l2_h")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise InputError(f"max_iter must be a positive integer, got {max_iter!r}")
    tol = _as_nonneg(tol, "tol")
    t_start = time.perf_counter()
    spins, starts, n = _prepare(S, trial_starts)
    T, N = spins.shape
    dtype = _precision_dtype(precision, T, N)
    data = Transitions(spins, starts, dtype)
    constant, ymean = _constant_neurons(data)
    if constant.size:
        what = _describe(constant, ymean)
        one = constant.size == 1
        fields, it = ("its field", "it") if one else ("their fields", "them")
        if method != "ml" or l2_h == 0:
            hint = (f"pass {option_name('l2_h')} > 0 to keep {fields} finite, or remove {it}"
                    if method == "ml" else f"remove {it} (mean-field inversion needs 1 − mᵢ² > 0)")
            raise InputError(f"{what} over the {n} transitions: {fields} {'has' if one else 'have'} no finite "
                             f"estimate; {hint}")
        warnings.warn(f"{what}; {fields} {'is' if one else 'are'} held finite only by "
                      f"{option_name('l2_h')} = {l2_h:g}", stacklevel=2)
    if init is not None and not isinstance(init, KineticIsing):
        raise InputError(f"init must be a KineticIsing model, got {init!r}")
    if init is not None and init.n_spins != N:
        raise InputError(f"init has {init.n_spins} spins but the raster has {N} neurons")

    # statistics over the transitions (m̄ over source bins, the stationary means for the mean field)
    XX, YX, xm, ym = data.XX / n, data.YX / n, data.x_mean, data.y_mean
    C = XX - np.outer(xm, xm)
    D = YX - np.outer(ym, xm)
    meta = {
        "method": method, "symmetric": bool(symmetric), "self_couplings": bool(self_couplings),
        "l2": l2, "l2_h": l2_h, "n_neurons": int(N), "n_bins": int(T), "n_transitions": int(n),
        "n_trials": int(starts.size), "precision": np.dtype(dtype).name,
    }

    if method in ("mean_field", "tap"):
        h, J, info = mean_field_couplings(ym, C, D, method, n=n, l2=l2, self_couplings=self_couplings)
        if symmetric:
            J = 0.5 * (J + J.T)
            h = mean_field_fields(ym, J, method)
        ll = data.total(h, J) / n
        meta.update(iterations=0, converged=True, elapsed_s=round(time.perf_counter() - t_start, 4))
        if method == "tap":
            meta["tap_F_max"] = float(info["F"].max())
        result = KineticFit(KineticIsing(h, J), method, ll, True, 0, {}, meta)
        return _checked(result, spins, starts, check, seed)

    # maximum likelihood: start from the better of the naive mean field and the independent model
    curvature = None
    if init is not None:
        h0, J0 = init.h.copy(), init.J.copy()
        if not self_couplings:
            np.fill_diagonal(J0, 0.0)
        start = "init"
    else:
        yc = np.clip(ym, -1 + 1e-6, 1 - 1e-6)
        candidates = [("independent", np.arctanh(yc), np.zeros((N, N)))]
        if constant.size == 0:
            try:
                hm, Jm, _ = mean_field_couplings(ym, C, D, "mean_field", n=n, l2=l2, self_couplings=self_couplings)
                if np.all(np.isfinite(Jm)) and np.all(np.isfinite(hm)):
                    if symmetric:
                        Jm = 0.5 * (Jm + Jm.T)
                        hm = mean_field_fields(ym, Jm)
                    candidates.append(("mean_field", hm, Jm))
            except InputError:
                pass
        best = None
        for name, hc, Jc in candidates:
            ev = data.evaluate(hc, Jc, gradient=False, weights=True)
            score = float(ev["ll"].sum()) - l2 * np.sum(Jc * Jc) - l2_h * hc @ hc
            if best is None or score > best[0]:
                best = (score, name, hc, Jc, (ev["w"], ev["wu"]))
        _, start, h0, J0, curvature = best
    h, J, ll, converged, nit, history, info = _fit_ml(
        data, h0, J0, symmetric, self_couplings, l2, l2_h, max_iter, tol, progress, curvature=curvature)
    if not converged:
        warnings.warn(
            f"fit_kinetic(ml) stopped after {nit} iterations before reaching {option_name('tol')} = {tol:g} "
            f"(remaining gradient {info['final_gradient']:.3g} standard errors; {info['message']})",
            stacklevel=2,
        )
    meta.update(iterations=nit, converged=bool(converged), tol=tol, start=start, optimizer="block L-BFGS",
                evaluations=info["evaluations"], final_gradient=float(info["final_gradient"]),
                optimizer_message=info["message"], elapsed_s=round(time.perf_counter() - t_start, 4))
    return _checked(KineticFit(KineticIsing(h, J), "ml", ll, bool(converged), nit, history, meta),
                    spins, starts, check, seed)


def _checked(result, spins, starts, check, seed):
    """``result`` after its sampled check (when ``check``), stored in ``result.meta["check"]``."""
    if check:
        from .model_check import check_fit

        symmetric = result.meta["symmetric"]
        advice = ("use method='ml'" if result.method != "ml" else
                  "fit J without the symmetry constraint (symmetric=False)" if symmetric else
                  "the kinetic model does not describe these data's equal-time statistics")
        check_fit(result.model, spins, result.meta, f"kinetic {result.method}{' (symmetric J)' if symmetric else ''}",
                  advice, seed=seed, trial_starts=starts, judge_moments=False, stacklevel=4)
    return result
