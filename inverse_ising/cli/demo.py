"""``inverse-ising demo [retina|lattice]``: the package end to end on data generated on the fly.

``retina`` (the default) draws a retina-like population from the documented model of
:func:`inverse_ising.synthetic.retina_pairwise_model` (sparse, mostly positive couplings, 2–10 %
firing per bin), samples data from it, fits a pairwise model (pseudo-likelihood start, Boltzmann
learning), prints and plots the true against the learned parameters, and validates the fit
against an independent model (rates, Cᵢⱼ, three-point correlations, P(K)). A second part does the
same for the kinetic model (:func:`inverse_ising.synthetic.retina_kinetic_model`): asymmetric
couplings learned by maximum likelihood, delayed correlations and held-out log-likelihood,
compared with the independent, equilibrium pairwise and symmetric kinetic models.

``lattice`` is the course assignment: L×L lattice configurations sampled at a chosen J and h,
fitted back by Boltzmann learning of the two-parameter lattice model, true against learned with
error bars, and pictures of samples of the data and of the learned model.

Output: everything goes into ``--out`` (default ``demo_output/retina`` or
``demo_output/lattice``, with ``demo_output`` made if missing), which is created; a folder
named with ``--out`` must lie in a folder that exists, as for every command. An existing
non-empty folder is refused unless ``--force`` is given, and ``--force`` replaces only a
folder that an earlier inverse-ising run wrote. The folder is assembled beside its final place and renamed into it at the end.
Nothing is downloaded.
"""
import json
import os
import time
import warnings

import numpy as np

from .common import add_backend, positive_int

# Boltzmann-learning settings of the demo: judged converged when every moment is within two of
# the data's standard errors on a model sample at least four times the data (see boltzmann.py).
DEMO_BOLTZMANN = {"n_chains": 500, "tol": 2.0, "check_noise": 0.5, "max_sweeps": 800, "max_iter": 60}
KINETIC_TRIALS, KINETIC_BINS = 50, 400  # the kinetic part's data: trials × bins per trial


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "demo", help="run the demonstration on generated data (retina-like neurons, or lattice images)",
        description="Generate data from a known model, fit it back, and compare true and learned parameters. "
                    "'retina' (default): a retina-like population, pairwise and kinetic models, validation "
                    "report. 'lattice': the course assignment, L×L images at a chosen J fitted by Boltzmann "
                    "learning. Nothing is downloaded.")
    parser.add_argument("which", nargs="?", choices=("retina", "lattice"), default="retina",
                        help="which demonstration (default: retina)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="output folder (default demo_output/retina or demo_output/lattice)")
    parser.add_argument("--force", action="store_true", help="replace an output folder from an earlier run")
    retina = parser.add_argument_group("retina demo")
    retina.add_argument("--neurons", type=positive_int, default=40, help="number of neurons (default 40)")
    retina.add_argument("--bins", type=positive_int, default=None,
                        help="time bins of data (default 20000; lattice: 400 images)")
    lattice = parser.add_argument_group("lattice demo")
    lattice.add_argument("--L", type=positive_int, default=32, help="lattice size L (even; default 32)")
    lattice.add_argument("--J", type=float, default=0.42, help="true coupling (default 0.42; K_c = 0.4407)")
    lattice.add_argument("--h", type=float, default=0.01, help="true field per site (default 0.01)")
    add_backend(parser)
    parser.set_defaults(run=run, seed=2026)


def run(args):
    out = args.out or os.path.join("demo_output", args.which)
    t0 = time.perf_counter()
    if args.which == "lattice":
        _lattice(args, out)
    else:
        _retina(args, out)
    print(f"\nfinished in {time.perf_counter() - t0:.0f} s; open {os.path.join(out, 'index.html')}")
    return 0


def _seeds(seed, n):
    return np.random.SeedSequence(seed).spawn(n)


def _rms(a, b):
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def _corr(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def _fmt(v):
    return "–" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.4g}"


# ============================================================================== retina
def _retina(args, out):
    from .. import plots
    from ..neural_stats import spin_to_neural
    from ..report import make_report, staged_output_dir
    from ..synthetic import retina_kinetic_data, retina_kinetic_model, retina_pairwise_data, retina_pairwise_model

    plots.require_matplotlib()
    N, M = args.neurons, args.bins or 20000
    s_model, s_data, s_report, s_kmodel, s_kdata, s_kreport = _seeds(args.seed, 6)
    results = {}
    quiet = {"log": lambda *a, **k: None}
    with staged_output_dir(out, args.force, make_parent=args.out is None) as tmp:
        # ---------------------------------------------------------------- equilibrium part
        truth = retina_pairwise_model(N, seed=s_model)
        p = truth.params
        print(f"1. A retina-like population of N = {N} neurons (inverse_ising.synthetic.retina_pairwise_model):")
        print("   p(x) ∝ exp(Σ b_i x_i + Σ_i<j W_ij x_i x_j), x = 1 when a neuron fires in a bin;")
        print(f"   {int(np.count_nonzero(np.triu(truth.W, 1)))} of {N * (N - 1) // 2} pairs coupled "
              f"(density {p['connectivity']}), W ~ Normal({p['coupling_mean']}, {p['coupling_std']}), "
              f"target rates {p['rate_range'][0]:.0%}–{p['rate_range'][1]:.0%} per bin.")
        t = time.perf_counter()
        data = retina_pairwise_data(M, truth, seed=s_data, backend=args.backend, progress=args.progress)
        rates = data.activity()
        print(f"   sampled {M} bins ({time.perf_counter() - t:.1f} s): firing rates {rates.min():.1%}–{rates.max():.1%}, "
              f"mean {rates.mean():.1%} per bin.")
        print("2. Fitting a pairwise model: pseudo-likelihood start, then Boltzmann learning "
              f"(backend {args.backend}) ...")

        def equilibrium_figures(fitted):
            model = fitted["pairwise"]["model"]
            iu = np.triu_indices(N, 1)
            b, W = spin_to_neural(model.h, model.J)
            results["pairwise"] = {
                "h_rms": _rms(model.h, truth.h), "J_rms": _rms(model.J[iu], truth.J[iu]),
                "J_true_rms": _rms(truth.J[iu], 0), "J_corr": _corr(model.J[iu], truth.J[iu]),
                "h_corr": _corr(model.h, truth.h), "b_rms": _rms(b, truth.b), "b_corr": _corr(b, truth.b),
                "W_rms": _rms(W[iu], truth.W[iu]),
                "converged": fitted["pairwise"]["meta"].get("converged"),
                "iterations": fitted["pairwise"]["meta"].get("iterations"),
            }
            fig = plots.plot_true_vs_learned({
                "fields hᵢ (±1 form)": (truth.h, model.h), "couplings Jᵢⱼ (±1 form, i < j)": (truth.J[iu], model.J[iu]),
                "bᵢ (0/1 form, b = 2h − 2ΣJ)": (truth.b, b), "Wᵢⱼ (0/1 form, W = 4J)": (truth.W[iu], W[iu]),
            }, title=f"Pairwise model: learned against true parameters (N = {N}, {M} bins)")
            return {"true_vs_learned.png": (fig, "Learned against true parameters of the generating pairwise "
                                                 "model, in the ±1 form (h, J) and the 0/1 form (b, W).")}

        t = time.perf_counter()
        eq = make_report(data, out=os.path.join(tmp, "equilibrium"), backend=args.backend, seed=int(s_report.generate_state(1)[0]),
                         models=("independent", "pairwise"), pairwise_options=DEMO_BOLTZMANN, progress=args.progress,
                         extra_figures=equilibrium_figures, **quiet)
        r = results["pairwise"]
        print(f"   done in {time.perf_counter() - t:.0f} s (fit and validation; {r['iterations']} iterations, "
              f"converged: {r['converged']}).")
        print("3. True against learned (±1 form; figure: true_vs_learned.png):")
        print(f"   fields    h: RMS error {r['h_rms']:.3f}, correlation {r['h_corr']:.3f} "
              f"(in the 0/1 form b = 2h − 2ΣJ: RMS error {r['b_rms']:.3f}, correlation {r['b_corr']:.3f})")
        print(f"   couplings J: RMS error {r['J_rms']:.4f} (true couplings have RMS {r['J_true_rms']:.4f}), "
              f"correlation {r['J_corr']:.3f}")
        print("4. Validation: statistics of the fitted models (sampled) against the data")
        _print_table(eq["comparison"], ("rates_rms", "C_rms", "T_rms", "T_rms_significant", "P_K_kl_bits", "P_K_chi2"))
        results["equilibrium_comparison"] = eq["comparison"]

        # ---------------------------------------------------------------- kinetic part
        ktruth = retina_kinetic_model(N, seed=s_kmodel)
        n_trials, length = KINETIC_TRIALS, KINETIC_BINS
        kdata = retina_kinetic_data(n_trials, length, ktruth, seed=s_kdata, backend=args.backend, progress=args.progress)
        print(f"5. A retina-like kinetic population (retina_kinetic_model): P(x_i(t+1)=1) = σ(b_i + Σ_j W_ij x_j(t)), "
              f"{int(np.count_nonzero(ktruth.W))} directed couplings;")
        print(f"   simulated {n_trials} trials × {length} bins; fitting independent, pairwise, kinetic symmetric "
              f"and asymmetric models on 80 % of the trials ...")

        def kinetic_figures(fitted):
            model = fitted["kinetic_asymmetric"]["model"]
            off = ~np.eye(N, dtype=bool)
            results["kinetic"] = {"h_rms": _rms(model.h, ktruth.h), "J_rms": _rms(model.J[off], ktruth.J[off]),
                                  "J_true_rms": _rms(ktruth.J[off], 0), "J_corr": _corr(model.J[off], ktruth.J[off]),
                                  "asymmetry_true": _rms(ktruth.J, ktruth.J.T) / _rms(ktruth.J, 0),
                                  "asymmetry_learned": _rms(model.J, model.J.T) / _rms(model.J, 0)}
            fig = plots.plot_true_vs_learned({"fields hᵢ": (ktruth.h, model.h),
                                              "couplings Jᵢⱼ (i ≠ j, i ← j)": (ktruth.J[off], model.J[off])},
                                             title="Kinetic model (asymmetric, maximum likelihood): learned against true")
            return {"kinetic_true_vs_learned.png": (fig, "Learned against true parameters of the generating kinetic "
                                                         "model (±1 form).")}

        t = time.perf_counter()
        kin = make_report(kdata, out=os.path.join(tmp, "kinetic"), backend=args.backend, seed=int(s_kreport.generate_state(1)[0]),
                          pairwise_options=DEMO_BOLTZMANN, progress=args.progress, extra_figures=kinetic_figures,
                          **quiet)
        k = results["kinetic"]
        print(f"   done in {time.perf_counter() - t:.0f} s. Asymmetric kinetic model, true against learned: "
              f"J RMS error {k['J_rms']:.4f} (true RMS {k['J_true_rms']:.4f}), correlation {k['J_corr']:.3f}")
        _print_table(kin["comparison"], ("C_rms", "D_rms", "D_chi2", "P_K_kl_bits", "log_likelihood_test_nats_per_bin"))
        results["kinetic_comparison"] = kin["comparison"]

        with open(os.path.join(tmp, "summary.json"), "w", encoding="utf-8") as fh:
            json.dump(_clean({"demo": "retina", "seed": args.seed, "backend": args.backend, "n_neurons": N,
                              "bins": M, "pairwise_truth": truth.params, "kinetic_truth": ktruth.params,
                              **results}), fh, indent=2)
        with open(os.path.join(tmp, "index.html"), "w", encoding="utf-8") as fh:
            fh.write(_index_html("inverse-ising demo: retina-like neurons", [
                ("equilibrium/index.html", "Pairwise model of equilibrium data: learned against true parameters, "
                                           "and validation against the independent model"),
                ("kinetic/index.html", "Kinetic data: independent, pairwise, kinetic symmetric and asymmetric "
                                       "models, delayed correlations, held-out log-likelihood"),
            ]))
    print(f"\nfigures and reports in {out}/ (equilibrium/, kinetic/; summary.json)")


_LABELS = {"rates_rms": "rates RMS", "C_rms": "C_ij RMS", "T_rms": "T_ijk RMS", "T_rms_significant": "T_ijk RMS (signif.)",
           "P_K_kl_bits": "P(K) KL bits", "P_K_chi2": "P(K) chi2/K", "D_rms": "D_ij RMS", "D_chi2": "D_ij chi2/pair",
           "log_likelihood_test_nats_per_bin": "held-out logL/bin"}


def _print_table(comparison, keys):
    names = list(comparison)
    width = 20
    print("   " + f"{'':{width}}" + "".join(f"{n.replace('kinetic_', 'kin. '):>16}" for n in names))
    for key in keys:
        print("   " + f"{_LABELS.get(key, key):{width}}" + "".join(f"{_fmt(comparison[n].get(key)):>16}" for n in names))


def _clean(obj):
    from ..report import _jsonable

    return _jsonable(obj)


def _index_html(title, links, body=""):
    import html

    items = "".join(f"<li><a href='{html.escape(h)}'>{html.escape(h)}</a>: {html.escape(t)}</li>" for h, t in links)
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>body{{font-family:sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em}}"
            f"img{{max-width:100%;border:1px solid #eee}}figure{{margin:2em 0}}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><ul>{items}</ul>{body}</body></html>\n")


# ============================================================================== lattice
def _fit_lattice(X, L, backend, seed, progress):
    """Boltzmann learning of LatticeIsing(L, J, h): (model, se_J, se_h, history, meta)."""
    from ..fit import fit

    res = fit(X, model="lattice", shape=(L, L), method="boltzmann", backend=backend, seed=seed, progress=progress)
    model, stderr, meta, history = res.model, res.stderr or {}, dict(res.meta or {}), dict(res.history or {})
    se_J, se_h = _lattice_errors(stderr, model, X)
    return model, se_J, se_h, history, meta


def _lattice_errors(stderr, model, X):
    """Standard errors of (J, h): the fit's own if it reports them, else the Cramér–Rao bound
    √diag(Σ⁻¹/M) with Σ the covariance of (Σ_⟨ij⟩ sᵢsⱼ, Σᵢ sᵢ) over the M configurations."""
    def pick(*keys):
        for key in keys:
            v = stderr.get(key) if isinstance(stderr, dict) else getattr(stderr, key, None)
            if v is not None and np.ndim(v) == 0 and np.isfinite(v):
                return float(v)
        return None

    se_J, se_h = pick("J", "se_J"), pick("h", "se_h")
    if se_J is None or se_h is None:
        stats = np.stack([model.bond_sum(X), model.magnetisation_sum(X)], axis=1).astype(float)
        cov = np.cov(stats.T)
        inv = np.linalg.pinv(cov) / X.shape[0]
        se_J, se_h = float(np.sqrt(inv[0, 0])), float(np.sqrt(inv[1, 1]))
    return se_J, se_h


def _lattice(args, out):
    from .. import plots
    from ..images import spins_to_png
    from ..models import LatticeIsing
    from ..onsager import K_C
    from ..pseudolikelihood import lattice_pseudolikelihood
    from ..report import staged_output_dir
    from ..sampling import sample
    from ..synthetic import lattice_images

    plots.require_matplotlib()
    L, J, h = args.L, args.J, args.h
    M = args.bins or 400
    s_data, s_fit, s_model = _seeds(args.seed, 3)
    with staged_output_dir(out, args.force, make_parent=args.out is None) as tmp:
        print(f"1. Sampling {M} configurations of the {L}x{L} lattice model p(s) ∝ exp(J Σ_<ij> s_i s_j + h Σ_i s_i)")
        print(f"   at J = {J} (K_c = {K_C:.4f}), h = {h} per site (course notes' total field h·L² = {h * L * L:.4g}) ...")
        t = time.perf_counter()
        data = lattice_images(L, J, h, n_samples=M, seed=s_data, backend=args.backend, progress=args.progress)
        X = data.spins
        print(f"   done in {time.perf_counter() - t:.1f} s; mean magnetisation {X.mean():+.3f}, "
              f"|m| {np.abs(X.mean(axis=1)).mean():.3f}")
        t = time.perf_counter()
        pl = lattice_pseudolikelihood(X, L)
        print(f"2. Pseudo-likelihood estimate: J = {pl.J:.4f} ± {pl.se_J:.4f}, h = {pl.h:+.5f} ± {pl.se_h:.5f}")
        print("3. Boltzmann learning of (J, h) ...")
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            model, se_J, se_h, history, meta = _fit_lattice(X, L, args.backend, s_fit, args.progress)
        print(f"   done in {time.perf_counter() - t:.1f} s")
        zJ, zh = (model.J - J) / se_J, (model.h - h) / se_h
        print(f"   {'':8}{'true':>10}{'learned':>12}{'± s.e.':>10}{'z':>8}")
        print(f"   {'J':8}{J:>10.4f}{model.J:>12.4f}{se_J:>10.4f}{zJ:>+8.2f}")
        print(f"   {'h':8}{h:>10.4f}{model.h:>12.5f}{se_h:>10.5f}{zh:>+8.2f}")
        print(f"   {'h·L²':8}{h * L * L:>10.4g}{model.h * L * L:>12.4g}{se_h * L * L:>10.3g}")
        learned = LatticeIsing(L, model.J, model.h)
        Y = sample(learned, M, backend=args.backend, seed=s_model, n_chains=50, burn_in=1000, thin=20, init="up",
                   progress=args.progress)
        n_show = min(16, M)
        spins_to_png(X[:n_show], os.path.join(tmp, "data_samples.png"), shape=(L, L), scale=4, columns=8)
        spins_to_png(Y[:n_show], os.path.join(tmp, "learned_model_samples.png"), shape=(L, L), scale=4, columns=8)
        figures = [
            ("parameters.png", plots.plot_parameter_estimates(
                {"J": (J, [("Boltzmann", model.J, se_J), ("pseudo-likelihood", pl.J, pl.se_J)]),
                 "h (per site)": (h, [("Boltzmann", model.h, se_h), ("pseudo-likelihood", pl.h, pl.se_h)])},
                title=f"Lattice model {L}x{L}: true and learned parameters ({M} configurations)"),
             "True parameters (dashed) and the estimates of Boltzmann learning and pseudo-likelihood, with "
             "their standard errors."),
            ("samples.png", plots.plot_spin_samples({"data": X[:12], "learned model": Y[:12]}, (L, L), n_show=12,
                                                    title="Configurations: white = +1, black = −1"),
             "Configurations of the data (top) and of the learned model (bottom)."),
            ("learning_curves.png", plots.plot_learning_curves({"lattice": history}),
             "Convergence of Boltzmann learning."),
        ]
        for name, fig, _ in figures:
            plots.save_figure(fig, os.path.join(tmp, name))
        mag = lambda S: float(np.abs(S.mean(axis=1)).mean())  # noqa: E731
        energy = lambda S: float((learned.bond_sum(S) / (L * L)).mean())  # noqa: E731
        print(f"4. Check by sampling the learned model: bonds per site <s_i s_j> {energy(Y):.4f} (data {energy(X):.4f}), "
              f"|m| {mag(Y):.3f} (data {mag(X):.3f})")
        summary = {"demo": "lattice", "L": L, "n_configurations": M, "seed": args.seed, "backend": args.backend,
                   "true": {"J": J, "h": h, "h_total": h * L * L},
                   "boltzmann": {"J": model.J, "se_J": se_J, "h": model.h, "se_h": se_h, "h_total": model.h * L * L,
                                 "z_J": zJ, "z_h": zh, **{k: v for k, v in meta.items() if np.ndim(v) == 0}},
                   "pseudolikelihood": {"J": pl.J, "se_J": pl.se_J, "h": pl.h, "se_h": pl.se_h},
                   "check": {"bonds_per_site_data": energy(X), "bonds_per_site_model": energy(Y),
                             "abs_m_data": mag(X), "abs_m_model": mag(Y)}}
        with open(os.path.join(tmp, "summary.json"), "w", encoding="utf-8") as fh:
            json.dump(_clean(summary), fh, indent=2)
        body = "".join(f"<figure><img src='{n}'><figcaption>{c}</figcaption></figure>" for n, _, c in figures)
        body += ("<figure><img src='data_samples.png'><figcaption>data_samples.png: the first data configurations"
                 "</figcaption></figure><figure><img src='learned_model_samples.png'><figcaption>"
                 "learned_model_samples.png: configurations of the learned model</figcaption></figure>")
        table = (f"<table border=1 cellpadding=4><tr><th></th><th>true</th><th>learned ± s.e.</th><th>z</th></tr>"
                 f"<tr><td>J</td><td>{J}</td><td>{model.J:.4f} ± {se_J:.4f}</td><td>{zJ:+.2f}</td></tr>"
                 f"<tr><td>h</td><td>{h}</td><td>{model.h:.5f} ± {se_h:.5f}</td><td>{zh:+.2f}</td></tr></table>")
        with open(os.path.join(tmp, "index.html"), "w", encoding="utf-8") as fh:
            fh.write(_index_html(f"inverse-ising demo: {L}x{L} lattice at J = {J}, h = {h}", [("summary.json", "numbers")],
                                 table + body))
