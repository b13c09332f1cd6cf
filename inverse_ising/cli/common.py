"""Argument helpers shared by the command modules."""
import argparse
import os

from ..backend import BACKENDS, RULES


def add_output(parser, default=None, help_text="output file (.npz)"):
    parser.add_argument("-o", "--output", required=default is None, default=default, help=help_text)
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")


def check_outputs(force, *outputs):
    """Refuse, before any work, outputs that could not be written, so that a failed command
    leaves no new file.

    ``outputs``: (path, suffix) pairs, a path of None skipped. Each must be named ``*suffix``,
    be absent unless ``force``, and lie in a folder that exists
    (:func:`inverse_ising.io.check_output`); no two may name the same file.
    """
    from ..errors import InputError
    from ..io import check_output

    seen = {}
    for path, suffix in outputs:
        if path is None:
            continue
        check_output(path, force, suffix)
        key = os.path.realpath(path)
        if key in seen:
            same = path if seen[key] == path else f"{seen[key]} and {path}"
            raise InputError(f"two outputs would be written to the same file: {same}")
        seen[key] = path


def add_sampler(parser):
    parser.add_argument("--rule", choices=RULES, default="metropolis", help="update rule (default: metropolis)")
    add_backend(parser)


def add_backend(parser):
    parser.add_argument("--backend", choices=BACKENDS, default="auto", help="kernel backend (default: auto = cython if built)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (a run is reproducible for a given seed)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show a progress bar (default: when stderr is a terminal)")


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def non_negative_int(text):
    if text.strip() == "0":
        return 0
    return positive_int(text)


def add_data_options(parser):
    """Options of :func:`inverse_ising.data.load_data`, for commands that read a data file."""
    from ..data import ORIENTATIONS

    group = parser.add_argument_group("reading the data")
    group.add_argument("--orientation", choices=ORIENTATIONS, default="auto",
                       help="layout of a raster: one row per neuron (neurons-by-bins, the bint.txt layout) "
                            "or one row per time bin (default: auto)")
    group.add_argument("--trial-length", type=positive_int, default=None,
                       help="bins per repeated trial (e.g. 953 for the salamander repeats)")
    group.add_argument("--bin-width", type=float, default=None,
                       help="read a text file of spike times (time, neuron) binned at this width")
    group.add_argument("--variable", default=None, help="array to read from a .mat/.npz holding several")
    group.add_argument("--invert", action="store_true", help="map 1 → −1 and 0 → +1 (e.g. dark pixels up)")


def load_data_from_args(path, args):
    """The :class:`inverse_ising.data.Dataset` at ``path``, read with the options of :func:`add_data_options`."""
    from ..data import load_data

    return load_data(path, orientation=args.orientation, trial_length=args.trial_length,
                     bin_width=args.bin_width, variable=args.variable, invert=args.invert)
