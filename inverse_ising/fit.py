"""One entry point for every equilibrium fit, and the result it returns.

``fit(X, model="pairwise" | "lattice", method=...)`` learns the fields and couplings of

* ``PairwiseIsing``:  log p(s) = Σᵢ hᵢsᵢ + Σ_{i<j} Jᵢⱼsᵢsⱼ − ln Z  (Boltzmann machine), or
* ``LatticeIsing``:   log p(s) = J Σ_⟨ij⟩ sᵢsⱼ + h Σᵢ sᵢ − ln Z  on an L×L lattice,

from binary data (±1 spins, or 0/1 read as s = 2x − 1), positive J ferromagnetic (SPEC §1).
Course notes that write ρ ∝ exp(−Σ J s s − Σ h s) have (−J, −h) for our (J, h).

Methods
-------
=================== ========================================================================
``"boltzmann"``     maximum likelihood by moment matching with Markov chains
                    (:mod:`inverse_ising.boltzmann`); the default
``"pseudolikelihood"`` :func:`inverse_ising.pseudolikelihood.fit_pseudolikelihood`
                    (lattice: :func:`~inverse_ising.pseudolikelihood.lattice_pseudolikelihood`)
``"mean_field"``    naive mean-field inversion, J = −(C⁻¹) off the diagonal (pairwise only)
``"tap"``           TAP inversion (pairwise only)
``"exact"``         exact maximum likelihood by enumeration (N ≤ 20; lattice: L² ≤ 20)
=================== ========================================================================

The :class:`FitResult` holds the model, the history (arrays, one entry per iteration), the
diagnostics (convergence statistic, converged flag, iterations, divergence) and the standard
errors, and saves to / loads from the model ``.npz`` of SPEC §5.

Every fit is checked by sampling (``check=True``, the default): the fitted model is sampled
from the data's own states by :func:`inverse_ising.model_check.check_by_sampling`, which
flags a model that runs away from the data's activity, misses P(K) (the distribution of the
number of active units) by more than independent units do, or misses the means and
correlations (judged for the pairwise model's fast methods; Boltzmann learning judges them
itself, and the two-parameter lattice model is not meant to reproduce every pixel's). The verdict is
``meta["check"]`` (saved with the fit); a failed check warns once, naming what failed and what
to use instead, and :meth:`FitResult.summary` says so instead of "converged".
"""
import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError
from .io import load_model, save_model
from .models import LatticeIsing, PairwiseIsing

MODELS = ("pairwise", "lattice")
METHODS = ("boltzmann", "pseudolikelihood", "mean_field", "tap", "exact")

#: what a method's stopping rule means, said where its model converged but fails its check
CONVERGED_MEANING = {"boltzmann": "moments within tolerance", "pseudolikelihood": "pseudo-likelihood optimum",
                     "exact": "maximum likelihood"}
#: what the warning of a failed sampled check advises, by method
CHECK_ADVICE = {
    "pseudolikelihood": "use method='boltzmann'",
    "mean_field": "use method='boltzmann'",
    "tap": "use method='boltzmann'",
    "exact": "the pairwise model does not describe these data",
    "boltzmann": "learn further (a larger max_iter, a smaller tol), or the pairwise model does not describe these data",
}

#: options accepted by ``fit`` for Boltzmann learning (passed on to the learners)
BOLTZMANN_OPTIONS = {
    "pairwise": ("n_chains", "tol", "check_noise", "max_iter", "max_sweeps", "cg_iter", "param_limit",
                 "checkpoint_seconds", "checkpoint_every", "track_likelihood", "fisher_limit", "keep_states"),
    "lattice": ("n_chains", "tol", "check_noise", "max_iter", "max_sweeps", "param_limit", "checkpoint_seconds",
                "checkpoint_every"),
}


@dataclass
class FitResult:
    """A fitted equilibrium model with its history, diagnostics and standard errors.

    Attributes
    ----------
    model : PairwiseIsing or LatticeIsing.
    method : how it was fitted ("boltzmann", "pseudolikelihood", "mean_field", "tap", "exact").
    history : dict of 1-D arrays, one entry per iteration (Boltzmann learning: ``max_z``,
        ``msz``, ``noise``, ``learning_rate``, ``sample_size``, ``sweeps``, ``step``,
        ``log_likelihood`` (exact, small N only, else NaN), ``seconds``; the lattice also ``J``,
        ``h``, ``z_bond``, ``z_magnetisation``).
    converged : whether the method's stopping rule was met (None where it has none).
    iterations : iterations used.
    max_z : the convergence statistic max_k |Δₖ|/SEₖ (model − data moment differences in units
        of the data's standard errors), where measured; msz : their mean square; noise : the rms
        ratio of the model sample's errors to the data's.
    diverged : True only for results reconstructed from a diverged run (fits that diverge raise
        :class:`inverse_ising.errors.FitDivergedError`).
    stderr : standard errors, {"h": ..., "J": ..., "method": ...} (scalars for the lattice,
        arrays for the pairwise model), empty where the method gives none.
    meta : what is saved as the file's ``meta`` (method, backend, seed, iterations, ...;
        ``meta["check"]``: the summary of the sampled check, see :attr:`sampled_check`).
    info : everything else the method reported (not saved).
    """

    model: object
    method: str
    history: dict = field(default_factory=dict)
    converged: object = None
    iterations: int = 0
    max_z: float = float("nan")
    msz: float = float("nan")
    noise: float = float("nan")
    diverged: bool = False
    stderr: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict, repr=False)

    # -- convenience -------------------------------------------------------------------------
    @property
    def kind(self):
        return self.model.kind

    @property
    def h(self):
        """Fields: (N,) for the pairwise model, the per-site scalar for the lattice."""
        return self.model.h

    @property
    def J(self):
        return self.model.J

    @property
    def h_total(self):
        """Lattice only: the course notes' total field h_notes = L²·h_site (SPEC §1)."""
        if self.kind != "lattice":
            raise AttributeError("h_total is defined for the lattice model only")
        return self.model.h_total

    @property
    def se_h(self):
        return self.stderr.get("h")

    @property
    def se_J(self):
        return self.stderr.get("J")

    @property
    def se_h_total(self):
        """Lattice only: standard error of h_total = L²·h."""
        if self.kind != "lattice":
            raise AttributeError("se_h_total is defined for the lattice model only")
        se = self.stderr.get("h")
        return None if se is None else self.model.L ** 2 * se

    @property
    def sampled_check(self):
        """The sampled check's summary (:meth:`inverse_ising.model_check.CheckResult.summary`):
        ``passed`` (True, False, or None when not checked), ``description``, the numbers; None
        when the fit was not checked."""
        return self.meta.get("check")

    def check(self, X, **options):
        """Sample the fitted model and compare its moments with the data ``X`` (SPEC §8).

        See :func:`inverse_ising.boltzmann.compare_moments` (options: ``n_chains``, ``rule``,
        ``backend``, ``seed``, ``check_noise``, ``burn_in``, ``max_sweeps``).  Returns a dict with
        ``max_z``, ``msz`` and ``noise``.
        """
        from .boltzmann import compare_moments

        return compare_moments(self.model, X, **options)

    def summary(self):
        """A few lines describing the fit (what the CLI prints)."""
        lines = [f"{self.method} fit of {self.model!r}"]
        if self.kind == "lattice":
            m = self.model
            se_J, se_h = self.stderr.get("J"), self.stderr.get("h")
            pm = (lambda se: f" ± {se:.2g}" if se is not None and np.isfinite(se) else "")
            lines.append(f"  J = {m.J:.6g}{pm(se_J)}   h = {m.h:.6g}{pm(se_h)} per site   "
                         f"h_total = L²·h = {m.h_total:.6g}{pm(None if se_h is None else m.L ** 2 * se_h)}")
        else:
            N = self.model.n_spins
            iu = np.triu_indices(N, 1)
            lines.append(f"  N = {N}: h in [{self.model.h.min():.3g}, {self.model.h.max():.3g}], "
                         f"J in [{self.model.J[iu].min():.3g}, {self.model.J[iu].max():.3g}] (±1 spins)")
        check = self.sampled_check or {}
        failed = check.get("passed") is False
        if self.converged is None:
            line = "  closed form (no iterations)" if self.iterations == 0 else \
                f"  no stopping rule, {self.iterations} iteration{'s' if self.iterations != 1 else ''}"
        else:
            conv = "converged" if self.converged else "NOT converged"
            if failed and self.converged and self.method in CONVERGED_MEANING:
                conv += f" ({CONVERGED_MEANING[self.method]})"
            line = f"  {conv} after {self.iterations} iteration{'s' if self.iterations != 1 else ''}"
        if failed:
            line += f" but FAILS its sampled check: the model {check.get('description')}"
        if np.isfinite(self.max_z):
            line += f"; max |z| = {self.max_z:.3g}, mean z² = {self.msz:.3g}"
        if np.isfinite(self.noise):
            line += f" (model-sample noise {self.noise:.2g} SE)"
        lines.append(line)
        if check and not failed:
            lines.append(f"  {check.get('description')}")
        return "\n".join(lines)

    def __repr__(self):
        return (f"FitResult(method={self.method!r}, model={self.model!r}, converged={self.converged}, "
                f"iterations={self.iterations}, max_z={self.max_z:.3g})")

    # -- files -------------------------------------------------------------------------------
    def save(self, path, force=False):
        """Write the SPEC §5 model/fit ``.npz`` atomically (refusing to overwrite unless ``force``).

        Entries: ``kind``, ``h``, ``J`` (scalars and ``L``, ``boundary`` for the lattice), ``meta``
        (JSON: method, backend, seed, iterations, converged, package_version, diagnostics, ...),
        ``history_<name>`` arrays, and the standard errors ``h_stderr``, ``J_stderr`` when known.
        Under MPI only the root process writes.
        """
        backend = self.info.get("_backend")
        if backend is not None and not backend.is_root:
            return
        history = {name: np.asarray(values, dtype=float) for name, values in self.history.items()}
        stderr = {f"{key}_stderr": np.asarray(self.stderr[key], dtype=float)
                  for key in ("h", "J") if self.stderr.get(key) is not None}
        save_model(path, self.model, _jsonable(self.meta), history, force, extra=stderr)


def load_fit(path):
    """Read a fit (or model) ``.npz`` written by :meth:`FitResult.save` into a FitResult."""
    model, meta, history = load_model(path)
    stderr = {}
    with np.load(path, allow_pickle=False) as npz:
        for key in ("h", "J"):
            if f"{key}_stderr" in npz.files:
                value = npz[f"{key}_stderr"]
                stderr[key] = float(value) if value.ndim == 0 else value
    if "stderr_method" in meta:
        stderr["method"] = meta["stderr_method"]
    return FitResult(
        model=model, method=meta.get("method", "unknown"), history=history,
        converged=meta.get("converged"), iterations=int(meta.get("iterations", 0)),
        max_z=_nan(meta.get("max_z")), msz=_nan(meta.get("msz")), noise=_nan(meta.get("noise")),
        diverged=bool(meta.get("diverged", False)), stderr=stderr, meta=meta,
    )


def _nan(x):
    return float("nan") if x is None else float(x)


def _jsonable(obj):
    """A JSON-safe copy: numpy scalars/arrays to lists, NaN/inf to None."""
    def clean(o):
        if isinstance(o, dict):
            return {str(k): clean(v) for k, v in o.items() if not str(k).startswith("_")}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        if isinstance(o, np.ndarray):
            return clean(o.tolist())
        if isinstance(o, (np.integer,)):
            return int(o)
        if isinstance(o, (float, np.floating)):
            return float(o) if math.isfinite(o) else None
        if isinstance(o, (str, int, bool)) or o is None:
            return o
        return str(o)
    return clean(obj)


# =============================================================================================
# fit()
# =============================================================================================

def fit(X, model="pairwise", method="boltzmann", shape=None, *, l2=None, l1=0.0, boundary="periodic",
        rule="metropolis", backend="auto", seed=None, init=None, optimizer="natural", learning_rate=None,
        checkpoint=None, resume=False, force=False, progress=None, check=True, **options):
    """Fit a pairwise or lattice Ising model to binary data; returns a :class:`FitResult`.

    Parameters
    ----------
    X : (M, N) ±1 or 0/1 array, or a :class:`inverse_ising.data.Dataset`; for the lattice
        (D, L, L), (D, L²) with ``shape=(L, L)`` (or a Dataset with that shape), or one (L, L).
    model : "pairwise" or "lattice".
    method : "boltzmann" (default), "pseudolikelihood", "mean_field", "tap" or "exact".
    l2 : L2 penalty per sample, l2·(Σhᵢ² + Σ_{i<j}Jᵢⱼ²) (lattice: l2·(J² + h²) per site).
        None → the method's default: 1/M for Boltzmann learning and pseudo-likelihood (pairwise),
        0 for the exact MLE and the lattice.
    l1 : L1 penalty l1·Σ|Jᵢⱼ| (pairwise Boltzmann learning only).
    boundary : lattice boundary, "periodic" or "open".
    rule, backend, seed : Markov-chain update rule ("metropolis", "glauber"), backend ("auto",
        "numpy", "cython", "mpi") and seed of Boltzmann learning.  ``seed=None`` draws fresh
        entropy; ``meta["seed"]`` records the seed used, and passing it back repeats the fit bit
        for bit.  Backend and seed also drive the sampled check (``meta["check"]["seed"]``).
    init : start of Boltzmann learning ("pseudolikelihood" by default; "mean_field", "tap",
        "independent", "random", "zeros", a model or parameters).
    optimizer, learning_rate : "natural" (default), "adam", or "sgd" with a fixed
        ``learning_rate`` (the course notes' rule).
    checkpoint, resume, force : checkpoint file of Boltzmann learning (written every
        ``checkpoint_seconds``, default 60, and on Ctrl-C), continue from it, or overwrite an
        existing one.
    progress : show a progress bar (None: when standard error is a terminal).
    check : sample the fitted model from the data's states and judge it
        (:func:`inverse_ising.model_check.check_by_sampling`); the verdict goes to
        ``meta["check"]``, and a failure warns once (:class:`~inverse_ising.model_check.ModelCheckWarning`).
        ``check=False`` skips it.
    **options : further options of Boltzmann learning (``n_chains``, ``tol``, ``check_noise``,
        ``max_iter``, ``max_sweeps``, ``cg_iter``, ``param_limit``, ``checkpoint_seconds``,
        ``checkpoint_every``, ``track_likelihood``, ``fisher_limit``) or of the fast estimators (``max_iter``, ``tol``).

    Raises InputError for bad data or options (SPEC §7) and FitDivergedError when Boltzmann
    learning diverges.
    """
    if model not in MODELS:
        raise InputError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    common = {"method": method, "model": model}
    if method == "boltzmann":
        allowed = BOLTZMANN_OPTIONS[model]
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise InputError(f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for "
                             f"{model} Boltzmann learning; known: {', '.join(allowed)}")
        kwargs = dict(options, rule=rule, backend=backend, seed=seed, optimizer=optimizer,
                      learning_rate=learning_rate, checkpoint=checkpoint, resume=resume, force=force,
                      progress=progress)
        if init is not None:
            kwargs["init"] = init
        if model == "pairwise":
            from .boltzmann import boltzmann_pairwise

            out = boltzmann_pairwise(X, l2=l2, l1=l1, **kwargs)
        else:
            if l1:
                raise InputError("l1 applies to the pairwise model only")
            from .boltzmann import boltzmann_lattice

            out = boltzmann_lattice(X, shape, boundary, 0.0 if l2 is None else l2, **kwargs)
        result = _from_boltzmann(out, common)
    else:
        if l1:
            raise InputError(f"l1 applies to Boltzmann learning only, not method={method!r}")
        if model == "lattice":
            result = _fit_lattice_fast(X, shape, boundary, method, l2, options, common)
        else:
            result = _fit_pairwise_fast(X, method, l2, options, common)
    if check:
        _sampled_check(result, X, shape, seed, backend)
    return result


def _sampled_check(result, X, shape, seed, backend):
    """Check the fitted model by sampling it from the data's states (see the module text)."""
    from .boltzmann import as_lattice_data, as_pairwise_data
    from .model_check import check_fit

    if result.kind == "lattice":
        data, trial_starts = as_lattice_data(X, shape)[0], None
    else:
        data, trial_starts = as_pairwise_data(X, warn=False), getattr(X, "trial_starts", None)
    if result.method == "boltzmann":
        seed, backend = result.meta["seed"], result.info["_backend"]
    check_fit(result.model, data, result.meta, result.method, CHECK_ADVICE[result.method], seed=seed,
              backend=backend, trial_starts=trial_starts, stacklevel=4,
              judge_moments=result.method != "boltzmann" and result.kind != "lattice")


def _from_boltzmann(out, common):
    info = out["info"]
    stderr = out["stderr"]
    meta = {
        **common, "backend": info["backend"], "rule": info["rule"], "seed": info["seed"],
        "iterations": out["iterations"], "converged": out["converged"],
        "diverged": False, "max_z": out["max_z"], "msz": out["msz"], "noise": out["noise"],
        "optimizer": info["optimizer"], "learning_rate": info["learning_rate"], "tol": info["tol"],
        "check_noise": info["check_noise"], "n_chains": info["n_chains"], "init": info.get("init", "checkpoint"),
        "l2": info["l2"], "sample_size": info["sample_size"], "seconds": info["seconds"],
        "stderr_method": stderr.get("method"),
    }
    for key in ("l1", "seed_spawn_key"):
        if key in info:
            meta[key] = info[key]
    if common["model"] == "lattice":
        meta.update({"h_total": out["model"].h_total, "n_configurations": info["n_configurations"],
                     "z": info["z"], "data_tau": info["data_tau"]})
        for k in ("J_statistical", "h_statistical", "J_monte_carlo", "h_monte_carlo", "J_residual",
                  "h_residual", "cov", "model_tau"):
            if k in stderr:
                meta[f"stderr_{k}"] = stderr[k]
    else:
        meta["max_z_raw"] = info["max_z_raw"]
        meta["max_z_centred"] = info["max_z_centred"]
    info = dict(info, measurement=out["measurement"], _backend=out["backend"])
    return FitResult(
        model=out["model"], method="boltzmann", history=out["history"], converged=out["converged"],
        iterations=out["iterations"], max_z=out["max_z"], msz=out["msz"], noise=out["noise"],
        stderr=stderr, meta=meta, info=info,
    )


def _check_fast_options(method, options, allowed):
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InputError(f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for "
                         f"method={method!r}; known: {', '.join(allowed) or 'none'}")


def _fit_pairwise_fast(X, method, l2, options, common):
    from .boltzmann import as_pairwise_data

    # the fast estimators name constant units in their own warnings
    spins = as_pairwise_data(X, warn=(method == "exact"))
    M, N = spins.shape
    meta = {**common, "n_samples": M, "n_units": N}
    if method == "pseudolikelihood":
        _check_fast_options(method, options, ("max_iter", "tol", "dtype", "compress"))
        from .pseudolikelihood import fit_pseudolikelihood

        h, J, info = fit_pseudolikelihood(spins, l2=l2, symmetrize=True, **options)
        meta.update({"iterations": int(info.iterations), "converged": bool(info.converged), "l2": info.l2,
                     "objective": info.objective, "grad_max": info.grad_max, "seconds": info.seconds})
        details = {k: v for k, v in vars(info).items() if k != "J_asymmetric"}
        return FitResult(PairwiseIsing(h, J), method, converged=bool(info.converged),
                         iterations=int(info.iterations), meta=meta,
                         info={**details, "J_asymmetric": info.J_asymmetric})
    if method in ("mean_field", "tap"):
        _check_fast_options(method, options, ("shrinkage",))
        if l2 is not None:
            raise InputError(f"method={method!r} regularises by shrinking the correlation matrix: pass "
                             f"shrinkage=λ (0..1, default automatic) instead of l2")
        from .mean_field import fit_mean_field, fit_tap

        estimator = fit_mean_field if method == "mean_field" else fit_tap
        h, J = estimator(spins, options.get("shrinkage"))
        meta.update({"iterations": 0, "converged": None, "shrinkage": options.get("shrinkage")})
        return FitResult(PairwiseIsing(h, J), method, converged=None, meta=meta)
    # exact
    _check_fast_options(method, options, ("tol", "max_iter", "method_exact"))
    from .exact import exact_mle

    opts = dict(options)
    if "method_exact" in opts:
        opts["method"] = opts.pop("method_exact")
    l2_value = 0.0 if l2 is None else l2
    model, info = exact_mle(spins, l2=l2_value, return_info=True, **opts)
    meta.update({"iterations": int(info.iterations), "converged": bool(info.converged), "l2": l2_value,
                 "log_likelihood": info.log_likelihood, "grad_max": info.grad_max})
    history = {"log_likelihood": np.array([info.log_likelihood])}
    return FitResult(model, method, history=history, converged=bool(info.converged),
                     iterations=int(info.iterations), meta=meta, info=vars(info))


def _fit_lattice_fast(X, shape, boundary, method, l2, options, common):
    from .boltzmann import as_lattice_data

    grids, L = as_lattice_data(X, shape)
    if boundary not in LatticeIsing.BOUNDARIES:
        raise InputError(f"boundary must be one of {LatticeIsing.BOUNDARIES}, got {boundary!r}")
    l2_value = 0.0 if l2 is None else float(l2)
    meta = {**common, "n_configurations": int(grids.shape[0]), "L": L, "boundary": boundary, "l2": l2_value}
    if method == "pseudolikelihood":
        _check_fast_options(method, options, ("groups", "tile", "tol", "max_iter"))
        from .pseudolikelihood import lattice_pseudolikelihood

        res = lattice_pseudolikelihood(grids, L, boundary, l2=l2_value, **options)
        model = LatticeIsing(L, res.J, res.h, boundary)
        stderr = {"J": float(res.se_J), "h": float(res.se_h), "method": res.se_method}
        meta.update({"iterations": int(res.iterations), "converged": bool(res.converged),
                     "h_total": model.h_total, "stderr_method": res.se_method})
        return FitResult(model, method, converged=bool(res.converged), iterations=int(res.iterations),
                         stderr=stderr, meta=meta, info={"result": res})
    if method == "exact":
        _check_fast_options(method, options, ())
        model, info = _lattice_exact_mle(grids, L, boundary, l2_value)
        meta.update({"iterations": info["iterations"], "converged": info["converged"], "h_total": model.h_total,
                     "log_likelihood": info["log_likelihood"]})
        return FitResult(model, method, converged=info["converged"], iterations=info["iterations"],
                         meta=meta, info=info, history={"log_likelihood": np.array([info["log_likelihood"]])})
    raise InputError(f"method={method!r} is not available for the lattice model; use boltzmann, "
                     f"pseudolikelihood or exact (L² ≤ 20)")


def _lattice_exact_mle(grids, L, boundary, l2):
    """Exact maximum likelihood of (J, h) by enumeration (L² ≤ 20), with scipy's BFGS.

    Per configuration, −ℓ = ln Z(J, h) − J B̄ − h S̄ + l2 L² (J² + h²), gradient
    (⟨B⟩ − B̄ + 2 l2 L² J, ⟨S⟩ − S̄ + 2 l2 L² h), ⟨B⟩ and ⟨S⟩ from the exact moments.
    """
    from scipy.optimize import minimize

    from .boltzmann import _lattice_statistics
    from .exact import exact_solve

    N = L * L
    if N > 20:
        raise InputError(f"method='exact' enumerates 2^(L²) states: L = {L} is too large (L² ≤ 20)")
    B, S = _lattice_statistics(grids, boundary == "periodic")
    Bm, Sm = float(B.mean()), float(S.mean())
    probe = LatticeIsing(L, 1.0, 0.0, boundary).to_pairwise().J  # bond multiplicities

    def objective(theta):
        J, h = theta
        sol = exact_solve(LatticeIsing(L, J, h, boundary))
        eB = 0.5 * float(np.sum(probe * sol.second_moment))
        eS = float(np.sum(sol.mean))
        pen = l2 * N * (J * J + h * h)
        f = sol.log_z - J * Bm - h * Sm + pen
        g = np.array([eB - Bm + 2 * l2 * N * J, eS - Sm + 2 * l2 * N * h])
        return f, g

    if np.all(np.abs(S) == N) and l2 == 0:
        raise InputError("every configuration is uniform: the exact MLE is at infinity; pass l2 > 0")
    res = minimize(objective, np.zeros(2), jac=True, method="BFGS", options={"gtol": 1e-8 * N, "maxiter": 200})
    J, h = (float(v) for v in res.x)
    model = LatticeIsing(L, J, h, boundary)
    ll = float(-res.fun + l2 * N * (J * J + h * h))
    if not res.success:
        warnings.warn(f"exact lattice MLE: {res.message}", RuntimeWarning, stacklevel=3)
    return model, {"iterations": int(res.nit), "converged": bool(res.success), "log_likelihood": ll / N,
                   "log_likelihood_per_configuration": ll}
