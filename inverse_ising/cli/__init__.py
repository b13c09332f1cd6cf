"""The ``inverse-ising`` command line: one module per command in this package.

Each command module defines ``add_parser(subparsers)``, which registers its sub-parser and sets
``run=<function(args)>`` as a default. Errors from bad input (:class:`InputError`) are printed as
one line and exit with status 2; Ctrl-C exits with status 130, and since outputs are written
atomically none is left half-written (``fit`` also keeps a checkpoint and names ``--resume``).
While a command runs, each Python warning is printed as one line, ``inverse-ising: warning: …``,
and messages name options by their flags (``--l2-h``, not ``l2_h``).
"""
import argparse
import importlib
import sys
import warnings

from .. import __version__
from ..errors import FitDivergedError, InputError

COMMANDS = ("sample", "simulate", "images", "fit", "fit_kinetic", "report", "demo")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="inverse-ising",
        description="Learn and sample Ising models and Boltzmann machines from binary data.",
    )
    parser.add_argument("--version", action="version", version=f"inverse-ising {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f".{name}", __name__).add_parser(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """warnings.showwarning for the command line: the message alone, on one line."""
    print(f"inverse-ising: warning: {' '.join(str(message).split())}", file=sys.stderr if file is None else file)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    from ..io import command_line_names
    from ..mpi_utils import abort_on_error, world_rank_size

    try:
        with warnings.catch_warnings(), command_line_names(), abort_on_error(prog=f"inverse-ising {args.command}"):
            warnings.showwarning = _show_warning
            return args.run(args) or 0
    except (InputError, FitDivergedError) as exc:
        if world_rank_size()[0] == 0:  # under mpiexec every rank holds the error; one prints it
            print(f"inverse-ising {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"inverse-ising {args.command}: interrupted; no partial output was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
