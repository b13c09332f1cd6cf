"""The validation report: how well independent, pairwise and kinetic models describe a raster.

:func:`make_report` takes binary data (a path any :func:`inverse_ising.data.load_data` reads, or
a :class:`~inverse_ising.data.Dataset`) and any fits already made, fits what is missing, runs the
fitted models, and writes PNG figures, ``summary.json`` and one page ``index.html`` into a
folder. The command line is ``inverse-ising report DATA [FITS...] --out DIR``.

The four models
---------------
* independent            p(s) = Πᵢ e^{hᵢsᵢ}/(2 cosh hᵢ), hᵢ = atanh mᵢ: matches the rates only.
* pairwise (equilibrium) p(s) ∝ exp(Σᵢ hᵢsᵢ + Σ_{i<j} Jᵢⱼsᵢsⱼ): matches mᵢ and Cᵢⱼ. Fitted by
                         :func:`inverse_ising.fit.fit` (Boltzmann learning started from the
                         pseudo-likelihood estimate, SPEC §8).
* kinetic symmetric      P(s(t+1) | s(t)) = Πᵢ e^{sᵢ(t+1)Hᵢ(t)}/(2 cosh Hᵢ(t)),
                         Hᵢ = hᵢ + Σⱼ Jᵢⱼsⱼ(t), with J = Jᵀ;
* kinetic asymmetric     the same with any J (:func:`inverse_ising.kinetic.fit_kinetic`, "ml").

Equilibrium models treat the time bins as independent draws, so they predict no delayed
correlation (Dᵢⱼ = 0); the kinetic models predict equal-time and delayed statistics alike.

Protocol
--------
1. When the data have temporal structure (at least one trial longer than one bin), they are
   split into a training part and a held-out test part (``test_fraction``, by whole trials, or a
   trailing block of one continuous recording: :meth:`Dataset.split`). Missing models are fitted
   on the training part, whose statistics are the "data" of the figures; the kinetic models'
   log-likelihood per bin, (1/n) Σₜ ln P(s(t+1) | s(t)) in nats (and the independent model's
   Σᵢ ln p(sᵢ(t+1)), the kinetic model with J = 0) is reported on both parts. Fits passed in
   are used as they are (if they were made on all the data, "held out" is not held out).
   Data whose rows are independent samples (one trial per row) are not split, and the kinetic
   models are skipped.
2. Every fitted model is checked by sampling (:func:`inverse_ising.model_check.check_by_sampling`:
   chains started from the training data's states; a model whose activity runs away from the
   data's, or whose P(K) is further from the data than independent units', fails). Models
   fitted here carry their fit's check; given fits are checked on the training part (runaway
   and P(K) only). A failing model is marked on the figures ("runs away when sampled") and on
   the page, and its verdict is in ``summary.json`` (``models.<name>.check``).
3. Model statistics come from samples: the pairwise model is sampled with the chosen backend
   (Metropolis chains started from data states), the kinetic models are simulated as many
   trials after a burn-in; the independent model's statistics are exact (rates = data, C = D =
   T = 0, P(K) Poisson-binomial).
4. Compared (definitions in :mod:`inverse_ising.neural_stats`): firing rates; Cᵢⱼ (i < j) with
   the data's jackknife error bars; Dᵢⱼ(1) (all i, j); Tᵢⱼₖ among the ``max_triplet_neurons``
   most active neurons; P(K). Distances in ``summary.json``: RMS differences, χ² per entry
   against the data's error bars, and for P(K) the Kullback–Leibler divergence
   D_KL(P_data ‖ P_model) in bits. Most triplets of a sparse population have Tᵢⱼₖ ≈ 0 within the
   noise, so the RMS over all of them sits near the data's noise level (``noise_rms``) for any
   decent model; ``T_rms_significant`` restricts it to the triplets with |Tᵢⱼₖ| > 3 s.e. in
   the data, where the models differ.

Output folder
-------------
Everything is written into a temporary folder beside ``out`` and renamed onto ``out`` at the
end, so an interrupted run leaves nothing half-written. An existing non-empty ``out`` is refused
unless ``force``; with ``force`` only a folder this package wrote before (it holds the marker
file ``.inverse-ising-output``) is replaced, never an arbitrary one.
"""
import contextlib
import json
import math
import os
import shutil
import tempfile
import time
import warnings

import numpy as np

from . import __version__
from . import neural_stats as ns
from .errors import InputError
from .models import KineticIsing, LatticeIsing, PairwiseIsing

MARKER = ".inverse-ising-output"
MODEL_ORDER = ("independent", "pairwise", "kinetic_symmetric", "kinetic_asymmetric")


# ------------------------------------------------------------------------------------ output folder
def check_output_dir(out, force=False, make_parent=False):
    """Raise :class:`InputError` unless ``out`` may be (re)written: absent, an empty folder, or,
    with ``force``, a folder written earlier by this package; its parent folder must exist
    (unless ``make_parent``: it is then created when the output is written)."""
    out = os.path.abspath(os.fspath(out))
    if os.path.exists(out) and not os.path.isdir(out):
        raise InputError(f"{out} exists and is not a folder; choose another --out")
    if not make_parent and not os.path.isdir(os.path.dirname(out)):
        raise InputError(f"cannot write {out}: folder {os.path.dirname(out)} does not exist")
    cwd = os.path.abspath(os.getcwd())
    if out == cwd or cwd.startswith(out.rstrip(os.sep) + os.sep) or out == os.path.dirname(out):
        raise InputError(f"--out {out} is the current folder or one of its parents; choose a new folder")
    if os.path.isdir(out) and os.listdir(out):
        if not force:
            raise InputError(f"{out} exists and is not empty; pass --force to replace it, or choose another --out")
        if not os.path.exists(os.path.join(out, MARKER)):
            raise InputError(
                f"{out} is not empty and was not written by inverse-ising (no {MARKER} file), so even "
                f"--force will not replace it; choose another --out"
            )
    return out


@contextlib.contextmanager
def staged_output_dir(out, force=False, make_parent=False):
    """Yield a temporary folder beside ``out``; on success it replaces ``out`` in one rename.

    See :func:`check_output_dir` for what may be replaced. The folder gets the permissions of
    ``os.mkdir`` under the user's umask. On any exception the temporary folder is removed and
    ``out`` is left as it was.
    """
    from .io import creation_mode

    out = check_output_dir(out, force, make_parent)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.", suffix=".tmp", dir=parent)
    try:
        os.chmod(tmp, creation_mode(folder=True))
        with open(os.path.join(tmp, MARKER), "w", encoding="utf-8") as fh:
            fh.write(f"written by inverse-ising {__version__}\n")
        yield tmp
        check_output_dir(out, force)  # nothing appeared meanwhile
        old = None
        if os.path.isdir(out):
            if os.listdir(out):
                old = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.", suffix=".old", dir=parent)
                os.rmdir(old)
                os.rename(out, old)
            else:
                os.rmdir(out)
        os.rename(tmp, out)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------------------ inputs
def _load_dataset(data, orientation="auto", trial_length=None):
    from .data import Dataset, load_data

    if isinstance(data, Dataset):
        if trial_length is not None:
            raise InputError("trial_length applies when the data are read from a file")
        return data
    if isinstance(data, (str, os.PathLike)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = load_data(data, orientation=orientation, trial_length=trial_length)
        for w in caught:  # neurons that never fire: repeat once, they matter for the fits
            warnings.warn(str(w.message), stacklevel=3)
        return ds
    return Dataset(np.asarray(data), None, None, {}, "array")


def classify_fit(model, meta=None):
    """The report's name for a fitted model: pairwise, kinetic_symmetric or kinetic_asymmetric."""
    if isinstance(model, (PairwiseIsing, LatticeIsing)):
        return "pairwise"
    if isinstance(model, KineticIsing):
        sym = (meta or {}).get("symmetric")
        if sym is None:
            sym = bool(np.allclose(model.J, model.J.T, atol=1e-12))
        return "kinetic_symmetric" if sym else "kinetic_asymmetric"
    raise InputError(f"cannot use {model!r} in a report")


def _load_fits(fits, n_units):
    """Fits from model files, or given in memory as a model or a (model, meta, history) tuple."""
    from .io import load_model

    out = {}
    for k, item in enumerate(fits or ()):
        if isinstance(item, (str, os.PathLike)):
            model, meta, history = load_model(item)
            source = os.fspath(item)
        elif isinstance(item, tuple):
            model, meta, history = (tuple(item) + ({}, {}))[:3]
            source = f"given ({(meta or {}).get('method', 'fit')})"
        else:
            model, meta, history, source = item, {}, {}, "given"
        what = source if isinstance(item, (str, os.PathLike)) else f"fit {k + 1}"
        if not hasattr(model, "n_spins"):
            raise InputError(f"{what}: not a model ({model!r})")
        if model.n_spins != n_units:
            raise InputError(f"{what}: the model has {model.n_spins} spins but the data have {n_units} neurons")
        name = classify_fit(model, meta)
        if name in out:
            raise InputError(f"{what}: a {name.replace('_', ' ')} model was already given ({out[name]['source']})")
        out[name] = {"model": model, "meta": dict(meta or {}), "history": dict(history or {}), "source": source,
                     "fitted_here": False}
    return out


def _check_models(models):
    if models is None:
        return MODEL_ORDER
    if isinstance(models, str):
        models = [m.strip() for m in models.split(",") if m.strip()]
    bad = [m for m in models if m not in MODEL_ORDER]
    if bad or not models:
        raise InputError(f"models must be chosen from {', '.join(MODEL_ORDER)}; got {', '.join(map(str, bad)) or 'none'}")
    return tuple(m for m in MODEL_ORDER if m in models)


# ------------------------------------------------------------------------------------ fitting
def fit_independent(spins):
    """hᵢ = atanh ⟨sᵢ⟩ (clipped for neurons that never or always fire), J = 0."""
    m = spins.mean(axis=0, dtype=np.float64)
    n = spins.shape[0]
    m = np.clip(m, -1 + 1.0 / n, 1 - 1.0 / n)
    return np.arctanh(m)


def fit_pairwise(spins, backend="auto", seed=None, progress=None, **options):
    """Pairwise model: pseudo-likelihood start, then Boltzmann learning (SPEC §8).

    Calls :func:`inverse_ising.fit.fit` (``model="pairwise", method="boltzmann"``; its default
    start is the pseudo-likelihood estimate); ``options`` go to it (e.g. ``n_chains``, ``tol``,
    ``check_noise``, ``max_sweeps``). Returns (model, meta, history, the FitResult).
    """
    from .fit import fit

    result = fit(spins, model="pairwise", method="boltzmann", backend=backend, seed=seed, progress=progress, **options)
    meta = dict(result.meta or {})
    meta.setdefault("method", "boltzmann")
    return result.model, meta, dict(result.history or {}), result


def fit_kinetic_model(spins, trial_starts, symmetric, progress=None, seed=None):
    """Kinetic model by maximum likelihood (:func:`inverse_ising.kinetic.fit_kinetic`; ``seed``
    seeds its sampled check)."""
    from .kinetic import fit_kinetic

    kf = fit_kinetic(spins, method="ml", symmetric=symmetric, trial_starts=trial_starts, progress=progress,
                     seed=seed)
    return kf.model, dict(kf.meta), dict(kf.history), kf


# ------------------------------------------------------------------------------------ statistics
class Statistics:
    """The compared statistics of one raster (data or model samples)."""

    def __init__(self, spins, trial_starts, triplet_neurons, n_blocks=None, temporal=True):
        sums = ns.BlockSums(spins, trial_starts, n_blocks, delayed=temporal)
        self.n_rows = spins.shape[0]
        self.rates, self.rates_err = sums.rates()
        self.C, self.C_err = sums.correlations()
        self.P, self.P_err = sums.spike_count_distribution()
        self.D, self.D_err = sums.delayed_correlations() if temporal else (None, None)
        _, self.T, self.T_err = ns.three_point_correlations(spins, neurons=triplet_neurons, trial_starts=trial_starts,
                                                            n_blocks=n_blocks)


def _independent_statistics(data_stats, N, n_triplets):
    st = Statistics.__new__(Statistics)
    st.n_rows = None
    st.rates, st.rates_err = data_stats.rates.copy(), None
    st.C, st.C_err = np.zeros((N, N)), None
    st.D, st.D_err = np.zeros((N, N)), None
    st.T, st.T_err = np.zeros(n_triplets), None
    st.P, st.P_err = ns.independent_spike_count_distribution(data_stats.rates), None
    return st


def _chi2(model, data, err):
    ok = err > 0
    return float(np.mean(((model[ok] - data[ok]) / err[ok]) ** 2)) if ok.any() else float("nan")


def compare(data, model, iu, off, n_model=None):
    """Distances between model and data statistics (see the module text)."""
    out = {
        "rates_rms": ns.rms(model.rates, data.rates),
        "rates_chi2": _chi2(model.rates, data.rates, data.rates_err),
        "C_rms": ns.rms(model.C[iu], data.C[iu]),
        "C_chi2": _chi2(model.C[iu], data.C[iu], data.C_err[iu]),
        "T_rms": ns.rms(model.T, data.T),
        "T_rms_significant": ns.rms(model.T, data.T, mask=np.abs(data.T) > 3 * data.T_err),
        "T_chi2": _chi2(model.T, data.T, data.T_err),
        "P_K_kl_bits": ns.pk_kl_divergence(data.P, model.P, n_model=n_model),
        "P_K_chi2": ns.pk_chi2(data.P, data.P_err, model.P),
    }
    if data.D is not None:
        out["D_rms"] = ns.rms(model.D[off], data.D[off])
        out["D_chi2"] = _chi2(model.D[off], data.D[off], data.D_err[off])
    return out


def _model_samples(name, model, train, n_samples, backend, seed, progress):
    """(spins, trial_starts) drawn from a fitted model."""
    from .sampling import sample, simulate

    if name == "pairwise":
        n_chains = 200 if n_samples >= 2000 else max(1, n_samples // 10)
        X = sample(model, n_samples, rule="metropolis", backend=backend, seed=seed, n_chains=n_chains, burn_in=300,
                   thin=2, init=train.spins, progress=progress)
        return X, np.arange(0, 1, dtype=np.int64)
    n_trials = 100
    length = max(2, -(-n_samples // n_trials))
    S = simulate(model, length, seed=seed, n_trials=n_trials, burn_in=200, backend=backend, progress=progress)
    return S.reshape(-1, model.n_spins), np.arange(n_trials, dtype=np.int64) * length


def _log_likelihoods(name, model, h_ind, part):
    from .kinetic import kinetic_log_likelihood

    if part is None or part.n_samples < 2:
        return None
    if name == "independent":
        m = KineticIsing(h_ind, np.zeros((h_ind.size, h_ind.size)))
    elif name.startswith("kinetic"):
        m = model
    else:
        return None
    return float(kinetic_log_likelihood(m, part.spins, trial_starts=part.trial_starts))


# ------------------------------------------------------------------------------------ the report
def make_report(data, fits=(), out="report", backend="auto", seed=0, force=False, orientation="auto",
                trial_length=None, test_fraction=0.2, n_model_samples=None, max_triplet_neurons=40,
                progress=None, pairwise_options=None, log=print, extra_figures=None, models=None):
    """Fit, compare and plot; write the report folder ``out``; return the summary dict.

    ``data``: a path, a Dataset or an (T, N) array; ``fits``: paths of model files (any of
    pairwise/lattice, kinetic symmetric, kinetic asymmetric — recognised from the file);
    ``n_model_samples``: bins drawn from each model (default: five times the data's training
    part, between 20 000 and 200 000, so that the models' sampling noise stays below the data's); ``pairwise_options``: passed to the pairwise fit;
    ``extra_figures``: {file name: figure or (figure, caption)} added to the folder and page, or a
    function of the fitted models ({name: {"model", "meta", "history", ...}}) returning such a dict;
    ``models``: which of independent, pairwise, kinetic_symmetric, kinetic_asymmetric to include
    (default all; the independent model is always included as the baseline; given fits are
    always used).
    """
    from . import plots

    t_start = time.perf_counter()
    plots.require_matplotlib()
    check_output_dir(out, force)
    chosen = _check_models(models)
    ds = _load_dataset(data, orientation, trial_length)
    N = ds.n_units
    if N < 3:
        raise InputError(f"the data have {N} neurons; a report needs at least 3")
    if N >= ds.n_samples and ds.shape is None:  # images may well have more pixels than pictures
        raise InputError(
            f"{ds.source or 'the data'} reads as {N} neurons but only {ds.n_samples} time bins, which is almost "
            f"certainly the wrong orientation (check --orientation: text rasters are one row per neuron)")
    given = _load_fits(fits, N)
    temporal = bool(np.any(ds.trial_lengths > 1))
    if temporal and test_fraction and ds.n_samples >= 20:
        train, test = ds.split(test_fraction, seed=seed)
    else:
        train, test = ds, None
    if not temporal:
        for name in [k for k in given if k.startswith("kinetic")]:
            raise InputError(f"{given[name]['source']}: a kinetic model needs data with time order, but every "
                             f"row of {ds.source or 'the data'} is its own trial")
    rows, units = ("configurations", "pixels") if ds.shape is not None else ("bins", "neurons")
    log(f"data: {ds.n_samples} {rows} x {N} {units}, {ds.n_trials} trial(s)"
        + (f"; training on {train.n_samples} bins, {test.n_samples} held out" if test is not None else ""))

    # fits
    fitted = {"independent": {"model": None, "meta": {"method": "closed form, h = atanh m"}, "history": {},
                              "source": "fitted here", "fitted_here": True}}
    h_ind = fit_independent(train.spins)
    wanted = [n for n in MODEL_ORDER[1:] if (n in chosen or n in given) and (temporal or not n.startswith("kinetic"))]
    timings = {}
    for name in wanted:
        if name in given:
            fitted[name] = given[name]
            log(f"{name.replace('_', ' ')}: using {given[name]['source']}")
            continue
        t0 = time.perf_counter()
        log(f"{name.replace('_', ' ')}: fitting on {train.n_samples} bins ...")
        if name == "pairwise":
            model, meta, history, result = fit_pairwise(train.spins, backend=backend, seed=seed, progress=progress,
                                                        **(pairwise_options or {}))
        else:
            model, meta, history, result = fit_kinetic_model(train.spins, train.trial_starts,
                                                             name == "kinetic_symmetric", progress=progress, seed=seed)
        timings[f"fit_{name}_s"] = round(time.perf_counter() - t0, 2)
        fitted[name] = {"model": model, "meta": meta, "history": history, "source": "fitted here", "fitted_here": True,
                        "result": result}
        log(f"  done in {timings[f'fit_{name}_s']:.1f} s")

    checks = _model_checks(fitted, train, backend, seed, log)

    # statistics
    triplet_neurons = np.arange(N) if N <= max_triplet_neurons else ns.top_active_neurons(train.spins, max_triplet_neurons)
    t0 = time.perf_counter()
    data_stats = Statistics(train.spins, train.trial_starts, triplet_neurons, n_blocks=20, temporal=temporal)
    n_model = n_model_samples or int(min(max(5 * train.n_samples, 20_000), 200_000))
    stats = {"independent": _independent_statistics(data_stats, N, data_stats.T.size)}
    seeds = np.random.SeedSequence(seed).spawn(len(MODEL_ORDER))
    for k, name in enumerate(MODEL_ORDER[1:], start=1):
        if name not in fitted:
            continue
        log(f"{name.replace('_', ' ')}: drawing {n_model} {rows} from the model ...")
        X, starts = _model_samples(name, fitted[name]["model"], train, n_model, backend, seeds[k], progress)
        kinetic = name.startswith("kinetic")
        stats[name] = Statistics(X, starts, triplet_neurons, n_blocks=None, temporal=kinetic)
        if temporal and not kinetic:  # independent draws: no delayed correlation
            stats[name].D = np.zeros((N, N))
    timings["model_statistics_s"] = round(time.perf_counter() - t0, 2)

    iu = np.triu_indices(N, 1)
    off = ~np.eye(N, dtype=bool)
    comparison = {}
    for name in MODEL_ORDER:
        if name not in stats:
            continue
        c = compare(data_stats, stats[name], iu, off, None if name == "independent" else n_model)
        if temporal:
            c["log_likelihood_train_nats_per_bin"] = _log_likelihoods(name, fitted[name]["model"], h_ind, train)
            c["log_likelihood_test_nats_per_bin"] = _log_likelihoods(name, fitted[name]["model"], h_ind, test)
        comparison[name] = c

    summary = {
        "package_version": __version__,
        "data": {"source": ds.source, "n_bins": int(ds.n_samples), "n_neurons": int(N), "n_trials": int(ds.n_trials),
                 "temporal": temporal, "rows": rows, "units": units, "train_bins": int(train.n_samples),
                 "test_bins": int(test.n_samples) if test is not None else 0,
                 "mean_rate_per_bin": float(data_stats.rates.mean()),
                 "rate_range_per_bin": [float(data_stats.rates.min()), float(data_stats.rates.max())],
                 "mean_K": float(np.arange(N + 1) @ data_stats.P),
                 "noise_rms": {"C": ns.rms(data_stats.C_err[iu]), "T": ns.rms(data_stats.T_err),
                               "D": ns.rms(data_stats.D_err[off]) if temporal else None},
                 "n_significant_triplets": int(np.sum(np.abs(data_stats.T) > 3 * data_stats.T_err))},
        "settings": {"backend": backend, "seed": seed, "test_fraction": test_fraction if test is not None else 0.0,
                     "model_bins": n_model, "triplet_neurons": triplet_neurons.tolist(),
                     "n_triplets": int(data_stats.T.size), "jackknife_blocks": 20,
                     "representation": "±1 spins (C, D, T); firing rates as probabilities per bin"},
        "models": {name: {"source": fitted[name]["source"], "method": fitted[name]["meta"].get("method"),
                          "fitted_here": fitted[name]["fitted_here"], "check": checks.get(name)} for name in fitted},
        "comparison": comparison,
        "timings": timings,
    }

    with staged_output_dir(out, force) as tmp:
        figures = _write_figures(tmp, ds, train, data_stats, stats, fitted, h_ind, summary, extra_figures)
        summary["figures"] = figures
        summary["timings"]["total_s"] = round(time.perf_counter() - t_start, 2)
        with open(os.path.join(tmp, "summary.json"), "w", encoding="utf-8") as fh:
            json.dump(_jsonable(summary), fh, indent=2, allow_nan=True)
        _save_models(tmp, fitted, h_ind)
        with open(os.path.join(tmp, "index.html"), "w", encoding="utf-8") as fh:
            fh.write(render_html(summary))
    log(f"report written to {os.path.abspath(out)} (open index.html)")
    return summary


def _model_checks(fitted, train, backend, seed, log):
    """{name: summary of the sampled check} of every fitted model: the fit's own check when it
    was fitted here, else :func:`~inverse_ising.model_check.check_by_sampling` on the training
    part (runaway and P(K); the report compares the moments itself)."""
    from .model_check import check_by_sampling

    out = {}
    for name, m in fitted.items():
        if m["model"] is None:  # the independent model: exact statistics
            continue
        check = m["meta"].get("check") if m["fitted_here"] else None
        if check is None:
            check = check_by_sampling(m["model"], train, seed=seed, backend=backend, judge_moments=False).summary()
            if check["passed"] is False:
                log(f"{name.replace('_', ' ')} ({m['source']}) FAILS its sampled check: the model {check['description']}")
        out[name] = check
    return out


def check_flags(summary):
    """{model name: "runs away when sampled" or "fails its sampled check"} of the models whose
    sampled check failed (the marks on the figures)."""
    flags = {}
    for name, m in summary["models"].items():
        check = m.get("check") or {}
        if check.get("passed") is False:
            flags[name] = "runs away when sampled" if check.get("runaway") else "fails its sampled check"
    return flags


def _save_models(folder, models, h_ind):
    from .io import save_model

    save_model(os.path.join(folder, "fit_independent.npz"), PairwiseIsing(h_ind, np.zeros((h_ind.size, h_ind.size))),
               meta={"method": "independent"})
    for name, m in models.items():
        if name != "independent" and m["fitted_here"]:
            path = os.path.join(folder, f"fit_{name}.npz")
            if hasattr(m.get("result"), "save"):
                m["result"].save(path)  # the fitter's own file (with its standard errors)
            else:
                save_model(path, m["model"], meta=_jsonable(m["meta"]), history=m["history"])


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return str(obj)


# ------------------------------------------------------------------------------------ figures
FIGURE_CAPTIONS = {
    "raster.png": "The first bins of the data: a tick where a neuron fires.",
    "firing_rates.png": "Firing rate of every neuron (probability of a spike per bin): data with jackknife "
                        "error bars, and each model.",
    "correlations.png": "Equal-time connected correlations Cᵢⱼ = ⟨sᵢsⱼ⟩ − ⟨sᵢ⟩⟨sⱼ⟩ (i < j, ±1 spins): model "
                        "against data, data error bars horizontal. The independent model predicts 0.",
    "delayed_correlations.png": "Delayed correlations Dᵢⱼ = ⟨sᵢ(t+1)sⱼ(t)⟩ − mᵢmⱼ (i ≠ j): equilibrium models "
                                "treat bins as independent draws and predict 0; kinetic models predict them.",
    "three_point.png": "Connected three-point correlations Tᵢⱼₖ = ⟨δsᵢδsⱼδsₖ⟩ (i < j < k), which no model was "
                       "fitted to: a test of the models.",
    "spike_count.png": "P(K), the probability that K neurons fire in the same bin, on a log scale: the classic "
                       "test that pairwise models pass and independent ones fail.",
    "learning_curves.png": "The fits' convergence records, per iteration.",
    "couplings.png": "Fitted couplings J in the ±1 form (J = W/4 of the 0/1 form), colour centred on 0, and "
                     "their histograms.",
}


def _write_figures(folder, ds, train, data_stats, stats, models, h_ind, summary, extra_figures):
    from . import plots

    figs = []

    def save(name, fig, caption=None):
        plots.save_figure(fig, os.path.join(folder, name))
        figs.append({"file": name, "caption": caption or FIGURE_CAPTIONS.get(name, "")})

    N = ds.n_units
    iu = np.triu_indices(N, 1)
    off = ~np.eye(N, dtype=bool)
    names = [n for n in MODEL_ORDER if n in stats]
    flags = check_flags(summary)
    if callable(extra_figures):
        extra_figures = extra_figures(models)
    for name, fig in (extra_figures or {}).items():
        caption = None
        if isinstance(fig, tuple):
            fig, caption = fig
        save(name, fig, caption)
    if summary["data"]["temporal"]:
        save("raster.png", plots.plot_raster(ds.spins, n_bins=min(600, ds.n_samples), trial_starts=ds.trial_starts))
    save("firing_rates.png", plots.plot_firing_rates(data_stats.rates, data_stats.rates_err,
                                                     {n: stats[n].rates for n in names}, flags=flags))
    comp = summary["comparison"]
    save("correlations.png", plots.plot_model_vs_data(
        data_stats.C[iu], {n: stats[n].C[iu] for n in names}, data_stats.C_err[iu], quantity="Cᵢⱼ",
        title="Equal-time correlations Cᵢⱼ (±1 spins, i < j)",
        notes={n: f"χ²/entry = {comp[n]['C_chi2']:.3g}" for n in names}, flags=flags))
    if data_stats.D is not None:
        save("delayed_correlations.png", plots.plot_model_vs_data(
            data_stats.D[off], {n: stats[n].D[off] for n in names}, data_stats.D_err[off], quantity="Dᵢⱼ",
            title="Delayed correlations Dᵢⱼ = ⟨sᵢ(t+1)sⱼ(t)⟩ − mᵢmⱼ (±1 spins, one bin apart)",
            notes={n: ("equilibrium: predicts D = 0\n" if n in ("independent", "pairwise") else "")
                   + f"χ²/entry = {comp[n]['D_chi2']:.3g}" for n in names}, flags=flags))
    n_trip = len(summary["settings"]["triplet_neurons"])
    save("three_point.png", plots.plot_model_vs_data(
        data_stats.T, {n: stats[n].T for n in names}, data_stats.T_err, quantity="Tᵢⱼₖ",
        title=f"Connected three-point correlations Tᵢⱼₖ (±1 spins, {data_stats.T.size} triplets of "
              f"{'all ' if n_trip == N else 'the most active '}{n_trip} neurons)",
        notes={n: f"χ²/entry = {comp[n]['T_chi2']:.3g}" for n in names}, flags=flags))
    rows, units = summary["data"]["rows"], summary["data"]["units"]
    save("spike_count.png", plots.plot_spike_count(
        data_stats.P, data_stats.P_err, {n: stats[n].P for n in names}, n_data=train.n_samples, units=units,
        rows=rows, title=f"P(K): probability that K of the {N} {units} are active in one {rows[:-1]}", flags=flags))
    histories = {n: models[n]["history"] for n in names if models[n]["history"]}
    save("learning_curves.png", plots.plot_learning_curves(histories))
    couplings = {n: models[n]["model"].to_pairwise().J if isinstance(models[n]["model"], LatticeIsing)
                 else models[n]["model"].J for n in names if n != "independent"}
    if couplings:
        save("couplings.png", plots.plot_couplings(couplings, title="Fitted couplings"))
    return figs


def _fmt(v, digits=3):
    if v is None:
        return "–"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "–"
        return f"{v:.{digits}g}"
    return str(v)


def render_html(summary):
    """The one-page report: the summary table and every figure with its caption."""
    import html

    d = summary["data"]
    comp = summary["comparison"]
    names = list(comp)
    rows = [
        ("firing rates, RMS", "rates_rms"), ("Cᵢⱼ, RMS", "C_rms"), ("Cᵢⱼ, χ² per pair", "C_chi2"),
        ("Dᵢⱼ, RMS", "D_rms"), ("Dᵢⱼ, χ² per pair", "D_chi2"), ("Tᵢⱼₖ, RMS", "T_rms"),
        ("Tᵢⱼₖ, χ² per triplet", "T_chi2"), ("Tᵢⱼₖ, RMS over triplets significant in the data (|T| > 3 s.e.)",
                                            "T_rms_significant"), ("P(K), D_KL(data ‖ model) bits", "P_K_kl_bits"),
        ("P(K), χ² per K", "P_K_chi2"), ("log-likelihood per bin, training (nats)", "log_likelihood_train_nats_per_bin"),
        ("log-likelihood per bin, held out (nats)", "log_likelihood_test_nats_per_bin"),
    ]
    from .plots import style

    head = "".join(f"<th>{html.escape(style(n)['label'])}</th>" for n in names)
    body = []
    for label, key in rows:
        if not any(key in comp[n] for n in names):
            continue
        vals = [comp[n].get(key) for n in names]
        finite = [v for v in vals if isinstance(v, float) and math.isfinite(v)]
        best = (max(finite) if key.startswith("log_likelihood") else min(finite)) if finite else None
        cells = "".join(f"<td{' class=best' if v is not None and v == best else ''}>{_fmt(v, 4)}</td>" for v in vals)
        body.append(f"<tr><th>{html.escape(label)}</th>{cells}</tr>")
    flags = check_flags(summary)

    def check_line(m):
        check = m.get("check")
        if not check:
            return ""
        text = html.escape(str(check.get("description")))
        if check.get("passed") is False:
            return f"<br><span class=fail>FAILS its sampled check: the model {text}</span>"
        return f"<br><small>sampled check: {text}</small>"

    models = "".join(f"<li><b>{html.escape(style(n)['label'])}</b>: {html.escape(str(m['source']))}"
                     f"{' (' + html.escape(str(m['method'])) + ')' if m.get('method') else ''}{check_line(m)}</li>"
                     for n, m in summary["models"].items())
    failing = "".join(
            f"<p class=fail>The {html.escape(style(n)['label'])} model {html.escape(flag)}: its states are unlike "
            f"the data's, so its statistics below do not describe the data.</p>" for n, flag in flags.items())
    figures = "".join(
        f"<figure><img src='{html.escape(f['file'])}' alt='{html.escape(f['file'])}'>"
        f"<figcaption>{html.escape(f['caption'])}</figcaption></figure>" for f in summary.get("figures", []))
    held = (f"; fits on the first part ({d['train_bins']} bins), log-likelihood also on {d['test_bins']} held-out bins"
            if d["test_bins"] else "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>inverse-ising report</title>
<style>
body {{ font-family: sans-serif; max-width: 1300px; margin: 1.5em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: right; }}
th {{ background: #f4f4f4; }} td.best {{ background: #dff0d8; font-weight: bold; }}
figure {{ margin: 2em 0; }} img {{ max-width: 100%; border: 1px solid #eee; }}
figcaption {{ color: #444; font-size: 0.95em; }}
.fail {{ color: #a00; font-weight: bold; }}
</style></head><body>
<h1>Independent, pairwise and kinetic models of {html.escape(d['source'] or 'the data')}</h1>
<p>{d['n_bins']} {d['rows']} × {d['n_neurons']} {d['units']} in {d['n_trials']} trial(s); mean probability of
being active (+1) {d['mean_rate_per_bin']:.4f} (range {d['rate_range_per_bin'][0]:.4f}–{d['rate_range_per_bin'][1]:.4f}),
on average {d['mean_K']:.2f} {d['units']} active at once{held}. Statistics are in the ±1 spin form
(s = 2x − 1); model statistics come from {summary['settings']['model_bins']} bins drawn from each fitted model
(backend {html.escape(str(summary['settings']['backend']))}, seed {summary['settings']['seed']}).</p>
<h2>Models</h2><ul>{models}</ul>{failing}
<h2>How well each model reproduces the data</h2>
<p>Smaller is better except for the log-likelihood; the best value of each row is highlighted. χ² values are
mean squared differences in units of the data's standard errors (≈ 1 when the model is as good as the data
can tell).</p>
<table><tr><th></th>{head}</tr>{''.join(body)}</table>
<h2>Figures</h2>{figures}
<p><small>inverse-ising {html.escape(summary['package_version'])}; numbers in summary.json; fitted models in
fit_*.npz.</small></p>
</body></html>
"""
