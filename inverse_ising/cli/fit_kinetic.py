"""``inverse-ising fit-kinetic RASTER -o kfit.npz``: fit a kinetic (non-equilibrium) Ising model.

P(s(t+1) | s(t)) = Πᵢ exp(sᵢ(t+1) Hᵢ(t)) / 2cosh Hᵢ(t),  Hᵢ(t) = hᵢ + Σⱼ Jᵢⱼ sⱼ(t), any J.
See :func:`inverse_ising.kinetic.fit_kinetic` for the methods and defaults.
"""
import argparse
import time

import numpy as np

from .common import add_data_options, add_output, check_outputs, load_data_from_args, positive_int


def _non_negative(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}") from None
    if not np.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}")
    return value


def add_parser(subparsers):
    from ..kinetic import DEFAULT_L2, METHODS

    parser = subparsers.add_parser(
        "fit-kinetic", help="fit a kinetic Ising model (asymmetric couplings) to a spike raster",
        description="Fit P(s(t+1)|s(t)) = Π_i exp(s_i(t+1) H_i(t)) / 2cosh H_i(t), H_i(t) = h_i + Σ_j J_ij s_j(t), "
                    "with asymmetric J, by exact maximum likelihood (ml) or by the naive mean-field or TAP "
                    "inversion of Roudi & Hertz (2011). Transitions across trial boundaries are never used.")
    parser.add_argument("data", metavar="RASTER",
                        help="text raster (0/1, one row per neuron, one column per time bin), .npy, .npz or .mat")
    add_output(parser, help_text="output fit file (.npz, kind 'kinetic')")
    parser.add_argument("--method", choices=METHODS, default="ml",
                        help="ml: exact maximum likelihood (default); mean_field: naive mean-field inversion; "
                             "tap: TAP-corrected inversion")
    parser.add_argument("--symmetric", action="store_true", help="constrain J to be symmetric")
    parser.add_argument("--l2", type=_non_negative, default=DEFAULT_L2,
                        help=f"penalty l2·Σ J_ij² on the total log-likelihood (default {DEFAULT_L2:g})")
    parser.add_argument("--l2-h", type=_non_negative, default=0.0,
                        help="penalty on the fields (default 0); > 0 lets neurons that never change through")
    parser.add_argument("--self-couplings", action="store_true", help="also fit J_ii (default: J_ii = 0)")
    parser.add_argument("--max-iter", type=positive_int, default=500, help="ml: iteration limit (default 500)")
    parser.add_argument("--tol", type=_non_negative, default=1e-2,
                        help="ml: stop when the gradient is below tol standard errors (default 0.01)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show a progress bar (default: when stderr is a terminal)")
    add_data_options(parser)
    parser.set_defaults(run=run)


def run(args):
    from ..kinetic import fit_kinetic

    check_outputs(args.force, (args.output, ".npz"))
    t0 = time.perf_counter()
    ds = load_data_from_args(args.data, args)
    t_read = time.perf_counter() - t0
    fit = fit_kinetic(ds.spins, method=args.method, symmetric=args.symmetric, l2=args.l2, l2_h=args.l2_h,
                      trial_starts=ds.trial_starts, max_iter=args.max_iter, tol=args.tol, progress=args.progress,
                      self_couplings=args.self_couplings)
    fit.meta["source"] = str(args.data)
    fit.meta["read_s"] = round(t_read, 3)
    J = fit.model.J
    off = ~np.eye(J.shape[0], dtype=bool)
    asym = float(np.linalg.norm(J - J.T) / max(np.linalg.norm(J + J.T), 1e-300))
    check = fit.meta.get("check") or {}
    failed = check.get("passed") is False
    status = ("" if fit.method != "ml" else
              f", {'NOT converged' if not fit.converged else 'converged (maximum likelihood)' if failed else 'converged'}"
              f" in {fit.n_iterations} iterations")
    if failed:
        status += f"{' but' if fit.method == 'ml' else ','} FAILS its sampled check: the model {check['description']}"
    summary = [
        f"{args.data}: {ds.n_units} neurons, {ds.n_samples} time bins in {ds.n_trials} trial"
        f"{'s' if ds.n_trials != 1 else ''} ({fit.meta['n_transitions']} transitions), read in {t_read:.1f} s",
        f"kinetic Ising, method {fit.method}{' (symmetric J)' if args.symmetric else ''}: "
        f"log-likelihood {fit.log_likelihood:.6f} nats/bin, {fit.meta['elapsed_s']:.1f} s{status}",
        f"fields h: mean {fit.model.h.mean():+.3f}, sd {fit.model.h.std():.3f}; couplings J (i≠j): "
        f"mean {J[off].mean():+.4f}, sd {J[off].std():.4f}, max |J| {np.abs(J[off]).max():.3f}; "
        f"asymmetry ‖J−Jᵀ‖/‖J+Jᵀ‖ = {asym:.3f}",
    ]
    if check and not failed:
        summary.append(check["description"])
    fit.save(args.output, force=args.force)
    print("\n".join(summary))
    print(f"wrote {args.output}")
    return 0
