"""Figures of data against models (matplotlib, Agg backend: no display needed).

matplotlib is a requirement of the package, imported only when a figure is drawn (so that fits
and samplers start fast); an environment without it gets an :class:`InputError` saying how to
install it. Every ``plot_*`` function returns a matplotlib Figure; :func:`save_figure` writes one
as a PNG atomically (temporary file, then rename) and closes it.

Conventions of the figures: statistics are in the ±1 spin representation (C, D, T) unless the
axis says otherwise; firing rates are probabilities per time bin (or Hz when a bin width is
known); error bars on data are one standard error (block jackknife, see
:mod:`inverse_ising.neural_stats`). Each model keeps one colour in every figure. ``flags``
({model name: text}, e.g. "runs away when sampled") mark a model in the legends and titles.
"""
import numpy as np

from .errors import InputError

MODEL_STYLE = {
    "independent": {"color": "0.45", "marker": "s", "label": "independent"},
    "pairwise": {"color": "tab:blue", "marker": "o", "label": "pairwise (equilibrium)"},
    "kinetic_symmetric": {"color": "tab:green", "marker": "^", "label": "kinetic, symmetric J"},
    "kinetic_asymmetric": {"color": "tab:red", "marker": "v", "label": "kinetic, asymmetric J"},
    "lattice": {"color": "tab:blue", "marker": "o", "label": "lattice (equilibrium)"},
}
_DATA_COLOR = "black"


def style(name, flags=None):
    """Colour, marker and legend label of a model name (unknown names get matplotlib defaults);
    a flag in ``flags`` is added to the label, "label — flag"."""
    st = MODEL_STYLE.get(name, {"color": None, "marker": "o", "label": name.replace("_", " ")})
    if flags and flags.get(name):
        st = dict(st, label=f"{st['label']} — {flags[name]}")
    return st


def require_matplotlib():
    """Import matplotlib with the non-interactive Agg backend and return ``pyplot``."""
    try:
        import matplotlib
    except ImportError:
        raise InputError(
            "figures need matplotlib, which is not installed: pip install matplotlib"
        ) from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path, force=False, dpi=110):
    """Write ``fig`` as a PNG at ``path`` atomically and close it."""
    from .io import atomic_write

    plt = require_matplotlib()
    try:
        with atomic_write(path, force) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return path


def _grid(n_panels, width=4.2, height=3.9, max_cols=4):
    plt = require_matplotlib()
    cols = min(max_cols, max(1, n_panels))
    rows = -(-n_panels // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.ravel()[n_panels:]:
        ax.set_visible(False)
    return fig, axes.ravel()[:n_panels]


def _diagonal(ax, lo, hi, label="model = data"):
    pad = 0.05 * (hi - lo if hi > lo else 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.6", lw=1, ls="--", zorder=0, label=label)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)


def _rms(a, b):
    d = np.asarray(a, float) - np.asarray(b, float)
    return float(np.sqrt(np.mean(d * d))) if d.size else float("nan")


def plot_model_vs_data(data, models, data_err=None, quantity="C_ij", xlabel=None, ylabel=None, title=None,
                       notes=None, max_points=20000, seed=0, flags=None):
    """One panel per model: model value against data value of every entry, with the diagonal.

    ``data``: 1-D array of data values (e.g. Cᵢⱼ for i < j); ``data_err``: their standard errors,
    drawn as horizontal error bars; ``models``: {name: 1-D array of the same length}. Each panel
    states the RMS difference. At most ``max_points`` entries are drawn (a random subset, fixed
    ``seed``); the RMS uses all. ``notes``: {name: text} written in the panel (e.g. "predicts 0").
    """
    from matplotlib.ticker import MaxNLocator

    data = np.asarray(data, float)
    names = list(models)
    fig, axes = _grid(len(names), width=4.8, height=4.5, max_cols=2)
    idx = np.arange(data.size)
    if data.size > max_points:
        idx = np.sort(np.random.default_rng(seed).choice(data.size, max_points, replace=False))
    values = [np.asarray(models[n], float) for n in names]
    allv = np.concatenate([data[idx]] + [v[idx] for v in values])
    lo, hi = float(np.min(allv)), float(np.max(allv))
    for ax, name, v in zip(axes, names, values):
        st = style(name, flags)
        _diagonal(ax, lo, hi)
        if data_err is not None:
            ax.errorbar(data[idx], v[idx], xerr=np.asarray(data_err, float)[idx], fmt="none", ecolor="0.75",
                        elinewidth=0.8, zorder=1, label="data ± 1 s.e.")
        ax.scatter(data[idx], v[idx], s=9, color=st["color"], marker=st["marker"], alpha=0.7, zorder=2,
                   edgecolors="none", label=st["label"])
        ax.set_title(f"{st['label']}\nRMS(model − data) = {_rms(v, data):.2g}", fontsize=10)
        ax.set_xlabel(xlabel or f"{quantity}, data")
        ax.set_ylabel(ylabel or f"{quantity}, model")
        if notes and name in notes:
            ax.text(0.97, 0.04, notes[name], transform=ax.transAxes, ha="right", va="bottom", fontsize=8,
                    color="0.3", bbox={"facecolor": "white", "edgecolor": "0.8", "alpha": 0.9})
        ax.legend(loc="upper left", fontsize=8, frameon=False)
        ax.grid(alpha=0.25)
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(MaxNLocator(5))
        ax.ticklabel_format(style="sci", scilimits=(-2, 3), useMathText=True)
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    return fig


def plot_firing_rates(rates, err, models=None, unit="spikes per bin", title=None, flags=None):
    """Firing rate of every neuron: data (with error bars) and each model, sorted by data rate."""
    plt = require_matplotlib()
    rates = np.asarray(rates, float)
    order = np.argsort(rates)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [2.2, 1]})
    x = np.arange(rates.size)
    ax.errorbar(x, rates[order], yerr=None if err is None else np.asarray(err)[order], fmt="o", ms=4,
                color=_DATA_COLOR, ecolor="0.5", capsize=2, label="data ± 1 s.e.", zorder=3)
    for name, v in (models or {}).items():
        st = style(name, flags)
        v = np.asarray(v, float)
        ax.plot(x, v[order], st["marker"], ms=4, mfc="none", color=st["color"], label=st["label"], alpha=0.85)
        ax2.scatter(rates, v, s=14, marker=st["marker"], color=st["color"], label=st["label"], alpha=0.8)
    ax.set_xlabel("neuron (sorted by data firing rate)")
    ax.set_ylabel(f"firing rate ({unit})")
    ax.set_title(title or "Firing rates")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.25)
    if models:
        lo, hi = float(rates.min()), float(rates.max())
        _diagonal(ax2, lo, hi)
        ax2.set_xlabel(f"data ({unit})")
        ax2.set_ylabel(f"model ({unit})")
        ax2.set_title("model against data")
        ax2.grid(alpha=0.25)
    else:
        ax2.set_visible(False)
    fig.tight_layout()
    return fig


def _group_counts(p, err, width):
    """Sum P(K) over groups of ``width`` consecutive K (errors added in quadrature)."""
    n = -(-p.size // width)
    pad = n * width - p.size
    P = np.append(p, np.zeros(pad)).reshape(n, width).sum(axis=1)
    E = None if err is None else np.sqrt((np.append(err, np.zeros(pad)) ** 2).reshape(n, width).sum(axis=1))
    return P, E


def plot_spike_count(p_data, err, models=None, title=None, n_data=None, units="neurons", rows="bins",
                     max_points=80, flags=None):
    """P(K), the probability that K units are active (+1) together, on a log scale: data and models.

    Values of K that the data never show are not drawn for the data; a model curve is drawn where
    it is positive. ``n_data``: number of rows of data, marking the resolution limit 1/n_data.
    With more than ``max_points`` values of K (large populations, images) P is summed over
    groups of consecutive K (data errors added in quadrature) and drawn at the groups' centres.
    """
    plt = require_matplotlib()
    p = np.asarray(p_data, float)
    width = max(1, -(-p.size // max_points))
    p, err = _group_counts(p, None if err is None else np.asarray(err, float), width)
    models = {n: _group_counts(np.asarray(q, float), None, width)[0] for n, q in (models or {}).items()}
    K = np.arange(p.size) * width + (width - 1) / 2.0
    fig, ax = plt.subplots(figsize=(7.5, 5))
    seen = p > 0
    yerr = None
    if err is not None:
        e = err[seen]
        yerr = np.vstack([np.minimum(e, p[seen] * 0.999), e])  # keep lower bars above 0 on a log axis
    ax.errorbar(K[seen], p[seen], yerr=yerr, fmt="o", color=_DATA_COLOR, ms=5 if width == 1 else 4, capsize=2,
                zorder=4, label="data ± 1 s.e.")
    floor = min(p[seen].min() if seen.any() else 1.0, 1.0 / n_data if n_data else 1.0) / 20
    shown = seen.copy()
    for name, q in models.items():
        st = style(name, flags)
        ok = q > 0
        shown |= ok & (q >= floor)
        ax.plot(K[ok], q[ok], "-", marker=st["marker"], ms=3.5, color=st["color"], label=st["label"], alpha=0.85)
    if n_data:
        ax.axhline(1.0 / n_data, color="0.6", lw=0.8, ls=":", label=f"1 / number of {rows} ({n_data})")
    ax.set_yscale("log")
    lo, hi = (K[shown].min(), K[shown].max()) if shown.any() else (0, K[-1])
    pad = max(1.0, 0.05 * (hi - lo))
    ax.set_xlim(max(-0.5, lo - pad), min(K[-1] + 0.5 * width, hi + pad))
    ax.set_ylim(floor, 1.5)
    ax.set_xlabel(f"K, number of {units} active in one {rows[:-1]}"
                  + (f" (P summed over groups of {width} values of K)" if width > 1 else ""))
    ax.set_ylabel("P(K)  (log scale)")
    ax.set_title(title or f"Probability that K {units} are active together")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.25, which="both")
    fig.tight_layout()
    return fig


LEARNING_ERRORS = ("max_z", "msz", "noise", "gradient", "grad_max", "max_dm", "max_dC", "error")
LEARNING_VALUES = ("log_likelihood", "objective", "log_pseudolikelihood")
_LEARNING_LABELS = {
    "max_z": "max |z| (largest moment error / data s.e.)",
    "msz": "mean z² over moments",
    "noise": "model sampling noise / data s.e. (rms)",
    "gradient": "largest gradient (in standard errors)",
    "log_likelihood": "log-likelihood per bin (nats)",
    "objective": "penalised objective per bin",
}


def _learning_panels(hist):
    """Split a history into (errors: positive convergence measures, values: likelihoods)."""
    clean = {}
    for k, v in hist.items():
        v = np.asarray(v, float)
        if v.ndim == 1 and v.size > 1 and np.any(np.isfinite(v)):
            clean[k] = v
    errors = {k: clean[k] for k in LEARNING_ERRORS if k in clean}
    values = {k: clean[k] for k in LEARNING_VALUES if k in clean}
    if not errors and not values:  # an unknown learner: show whatever it recorded
        for k, v in clean.items():
            (errors if np.all(v[np.isfinite(v)] > 0) else values)[k] = v
    return errors, values


def plot_learning_curves(histories, title=None):
    """The convergence record of every fit against iteration: one row per fit.

    ``histories``: {model name: {quantity: array per iteration}}. Convergence measures (max |z|,
    mean z², noise, gradient: positive, smaller is better) share a log-scale panel; likelihoods
    and objectives get a linear panel beside it. Other recorded quantities are left out.
    """
    plt = require_matplotlib()
    rows = []
    for name, hist in histories.items():
        errors, values = _learning_panels(hist)
        if errors or values:
            rows.append((name, errors, values))
    fig, axes = plt.subplots(max(1, len(rows)), 2, figsize=(11, 3.4 * max(1, len(rows))), squeeze=False)
    if not rows:
        axes[0, 0].text(0.5, 0.5, "no learning history recorded", ha="center", va="center")
        for ax in axes[0]:
            ax.set_axis_off()
    for r, (name, errors, values) in enumerate(rows):
        for ax, group, log in ((axes[r, 0], errors, True), (axes[r, 1], values, False)):
            if not group:
                ax.set_axis_off()
                if not log:
                    ax.text(0.5, 0.5, f"{style(name)['label']}:\nno likelihood recorded\n(the exact log-likelihood "
                                      "needs ln Z,\ntracked only for small N)", ha="center", va="center",
                            fontsize=9, color="0.4", transform=ax.transAxes)
                continue
            for k, v in group.items():
                it = np.arange(1, v.size + 1)
                ok = np.isfinite(v) & ((v > 0) if log else True)
                ax.plot(it[ok], v[ok], marker="o", ms=3, lw=1.3, label=_LEARNING_LABELS.get(k, k.replace("_", " ")))
            if log:
                ax.set_yscale("log")
                if "max_z" in group:
                    ax.axhline(1.0, color="0.5", ls=":", lw=1, label="one standard error")
            ax.set_xlabel("iteration")
            ax.set_ylabel("convergence measure (log scale)" if log else "value")
            ax.set_title(f"{style(name)['label']}: " + ("errors" if log else "likelihood"), fontsize=10)
            ax.legend(fontsize=8, frameon=False)
            ax.grid(alpha=0.25, which="both")
    fig.suptitle(title or "Learning curves", fontsize=12)
    fig.tight_layout()
    return fig


def plot_couplings(couplings, title=None, form="±1 spin form: J"):
    """Each coupling matrix as a heat map (colour scale centred on 0) above its histogram."""
    plt = require_matplotlib()
    names = list(couplings)
    n = max(1, len(names))
    fig, axes = plt.subplots(2, n, figsize=(4.6 * n, 8.2), squeeze=False, gridspec_kw={"height_ratios": [1.25, 1]})
    for col, name in enumerate(names):
        J = np.asarray(couplings[name], float)
        off = J[~np.eye(J.shape[0], dtype=bool)]
        vmax = float(np.max(np.abs(off))) if off.size else 1.0
        ax = axes[0, col]
        im = ax.imshow(J, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
        ax.set_title(f"{style(name)['label']}\n{form}" + ("ᵢⱼ (row i ← column j)" if "kinetic" in name else "ᵢⱼ"),
                     fontsize=10)
        ax.set_xlabel("neuron j")
        ax.set_ylabel("neuron i")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        ax = axes[1, col]
        ax.hist(off, bins=40, color=style(name)["color"] or "tab:blue", alpha=0.8)
        ax.set_yscale("log")
        ax.axvline(0, color="0.3", lw=0.8)
        ax.set_xlabel("Jᵢⱼ (off-diagonal)")
        ax.set_ylabel("number of pairs (log scale)")
        pos = np.mean(off > 0) if off.size else float("nan")
        ax.set_title(f"mean {off.mean():+.3f}, sd {off.std():.3f}, {100 * pos:.0f}% positive", fontsize=9)
        ax.grid(alpha=0.25)
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    return fig


def plot_raster(spins, n_bins=500, bin_width=None, title=None, trial_starts=None):
    """The first ``n_bins`` bins of a raster: a black tick where a neuron fires."""
    plt = require_matplotlib()
    S = np.asarray(spins)[:n_bins]
    fig, ax = plt.subplots(figsize=(11, 3.8))
    t, i = np.nonzero(S == 1)
    scale = bin_width if bin_width else 1.0
    ax.scatter(t * scale, i, marker="|", s=12, color="black", lw=0.8)
    if trial_starts is not None:
        for s0 in np.asarray(trial_starts):
            if 0 < s0 < S.shape[0]:
                ax.axvline(s0 * scale, color="tab:red", lw=0.8, ls=":")
    ax.set_xlim(-0.5 * scale, (S.shape[0] - 0.5) * scale)
    ax.set_ylim(-0.5, S.shape[1] - 0.5)
    ax.set_xlabel("time (s)" if bin_width else "time bin")
    ax.set_ylabel("neuron")
    ax.set_title(title or f"Raster of the first {S.shape[0]} bins" + (" (dotted: trial starts)" if trial_starts is not None and np.size(trial_starts) > 1 else ""))
    fig.tight_layout()
    return fig


def plot_true_vs_learned(pairs, title=None):
    """Learned against true parameters, one panel per parameter group.

    ``pairs``: {label: (true, learned) or (true, learned, learned_error)}; each panel gets the
    diagonal, the RMS error and the correlation coefficient.
    """
    names = list(pairs)
    fig, axes = _grid(len(names), width=4.6, height=4.3)
    for ax, name in zip(axes, names):
        entry = pairs[name]
        true, learned = np.asarray(entry[0], float).ravel(), np.asarray(entry[1], float).ravel()
        err = np.asarray(entry[2], float).ravel() if len(entry) > 2 and entry[2] is not None else None
        lo, hi = float(min(true.min(), learned.min())), float(max(true.max(), learned.max()))
        _diagonal(ax, lo, hi, label="learned = true")
        if err is not None:
            ax.errorbar(true, learned, yerr=err, fmt="o", ms=5, capsize=3, color="tab:blue", label="learned ± 1 s.e.")
        else:
            ax.scatter(true, learned, s=10, color="tab:blue", alpha=0.7, edgecolors="none", label="learned")
        r = np.corrcoef(true, learned)[0, 1] if true.size > 1 and true.std() > 0 and learned.std() > 0 else float("nan")
        ax.set_title(f"{name}\nRMS error {_rms(learned, true):.3g}" + ("" if np.isnan(r) else f", r = {r:.3f}"),
                     fontsize=10)
        ax.set_xlabel("true")
        ax.set_ylabel("learned")
        ax.legend(loc="upper left", fontsize=8, frameon=False)
        ax.grid(alpha=0.25)
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    return fig


def plot_parameter_estimates(rows, title=None):
    """A few scalar parameters: the true value (dashed line) and estimates with error bars.

    ``rows``: {label: (true, estimate, error)} or {label: (true, [(method, estimate, error), ...])},
    one panel per label; each panel's title gives z = (estimate − true)/s.e. of the first method.
    """
    names = list(rows)
    fig, axes = _grid(len(names), width=4.2, height=3.8)
    colours = ("tab:blue", "tab:orange", "tab:green", "tab:purple")
    for ax, name in zip(axes, names):
        true, ests = rows[name][0], rows[name][1]
        if np.ndim(ests) == 0:
            ests = [("learned", ests, rows[name][2])]
        true = float(true)
        ax.axhline(true, color="0.3", ls="--", lw=1.2, label=f"true {true:.4g}")
        lo, hi = true, true
        for k, (method, est, err) in enumerate(ests):
            est, err = float(est), float(err)
            ax.errorbar([k], [est], yerr=[err], fmt="o", ms=8, capsize=6, color=colours[k % len(colours)],
                        label=f"{method}: {est:.4g} ± {err:.2g}")
            lo, hi = min(lo, est - err), max(hi, est + err)
        span = max(hi - lo, 1e-3)
        ax.set_ylim(lo - 0.6 * span, hi + 0.9 * span)
        ax.set_xlim(-0.8, len(ests) - 0.2)
        ax.set_xticks(range(len(ests)))
        ax.set_xticklabels([m for m, _, _ in ests], fontsize=8)
        method, est, err = ests[0]
        z = (float(est) - true) / float(err) if float(err) > 0 else float("nan")
        ax.set_title(f"{name}\n{method}: z = (estimate − true)/s.e. = {z:+.2f}", fontsize=9)
        ax.legend(loc="upper left", fontsize=8, frameon=False)
        ax.grid(alpha=0.25, axis="y")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_spin_samples(panels, shape, n_show=16, title=None):
    """Rows of lattice configurations (white = +1, black = −1), one row per source.

    ``panels``: {label: (M, L·L) spins}; the first ``n_show`` configurations of each are drawn.
    """
    plt = require_matplotlib()
    names = list(panels)
    fig, axes = plt.subplots(len(names), n_show, figsize=(1.15 * n_show, 1.35 * len(names) + 0.4), squeeze=False)
    for r, name in enumerate(names):
        S = np.asarray(panels[name])
        for c in range(n_show):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < S.shape[0]:
                ax.imshow(S[c].reshape(shape), cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
            else:
                ax.set_visible(False)
        axes[r, 0].set_ylabel(name, fontsize=9, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
