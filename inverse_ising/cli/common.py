"""Argument helpers shared by the command modules."""
import argparse

from ..backend import BACKENDS, RULES


def add_output(parser, default=None, help_text="output file (.npz)"):
    parser.add_argument("-o", "--output", required=default is None, default=default, help=help_text)
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")


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
