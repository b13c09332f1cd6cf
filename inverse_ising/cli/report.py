"""``inverse-ising report DATA [FITS...] --out DIR``: compare independent, pairwise and kinetic models.

See :mod:`inverse_ising.report` for what is fitted, sampled, compared and drawn.
"""
import argparse

from ..report import MODEL_ORDER
from .common import add_backend, add_data_options, load_data_from_args, positive_int


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def _models(text):
    names = [m.strip().replace("-", "_") for m in text.split(",") if m.strip()]
    bad = [m for m in names if m not in MODEL_ORDER]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(MODEL_ORDER)} (comma-separated), got {text!r}")
    return names


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "report", help="fit, validate and plot independent, pairwise and kinetic models of a raster",
        description="Compare independent, equilibrium pairwise and kinetic (symmetric and asymmetric) models "
                    "of binary data: firing rates, equal-time, delayed and three-point correlations, P(K) and "
                    "held-out log-likelihood. Fits that are not given are made here; every model is sampled "
                    "or simulated to get its statistics. Writes PNG figures, summary.json and index.html "
                    "into --out.")
    parser.add_argument("data", metavar="DATA",
                        help="text raster (one row per neuron, one column per bin), .npy, .npz, .mat, or images")
    parser.add_argument("fits", nargs="*", metavar="FITS",
                        help="model/fit .npz files to use instead of fitting (pairwise or lattice, kinetic)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder (created; an existing non-empty one needs --force)")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing output folder written earlier by inverse-ising")
    parser.add_argument("--test-fraction", type=_fraction, default=0.2,
                        help="fraction of trials (or trailing bins) held out for the log-likelihood (default 0.2)")
    parser.add_argument("--model-bins", type=positive_int, default=None, metavar="N",
                        help="bins drawn from each fitted model (default 5× the training bins, 20 000–200 000)")
    parser.add_argument("--models", type=_models, default=None, metavar="LIST",
                        help=f"comma-separated subset of {','.join(MODEL_ORDER)} (default all)")
    add_data_options(parser)
    add_backend(parser)
    parser.set_defaults(run=run, seed=0)


def run(args):
    from ..report import check_output_dir, make_report

    check_output_dir(args.out, args.force)  # before reading a large file
    data = load_data_from_args(args.data, args)
    make_report(data, args.fits, out=args.out, backend=args.backend, seed=args.seed, force=args.force,
                test_fraction=args.test_fraction, n_model_samples=args.model_bins, progress=args.progress,
                models=args.models)
    return 0
