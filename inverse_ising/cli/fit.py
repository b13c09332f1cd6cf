"""``inverse-ising fit DATA -o fit.npz``: fit a pairwise (Boltzmann machine) or lattice Ising model.

    log p(s) = Σᵢ hᵢsᵢ + Σ_{i<j} Jᵢⱼsᵢsⱼ − ln Z              (--model pairwise)
    log p(s) = J Σ_⟨ij⟩ sᵢsⱼ + h Σᵢ sᵢ − ln Z  on L×L        (--model lattice)

Positive J is ferromagnetic; 0/1 data are read as s = 2x − 1.  See :func:`inverse_ising.fit.fit`
and ``docs/learning.md`` for the methods, defaults and the convergence criterion.

Boltzmann learning checkpoints to ``OUTPUT.checkpoint.npz`` (or ``--checkpoint``) every
``--checkpoint-seconds`` (default 60) and when interrupted: Ctrl-C (SIGINT, exit status 130) or
SIGTERM (143) writes the state after the last completed iteration and prints one line naming
``--resume``; the same command with ``--resume`` continues, giving exactly the result of an
uninterrupted run.  The default checkpoint is removed once the fit is written.  Without
``--seed`` the seed drawn is recorded in the output and printed on standard error.
"""
import argparse
import contextlib
import os
import signal
import sys

import numpy as np

from ..errors import InputError
from .common import add_data_options, add_output, add_sampler, check_outputs, load_data_from_args, positive_int


def _non_negative(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}") from None
    if not np.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}")
    return value


def _positive(text):
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def add_parser(subparsers):
    from ..boltzmann import OPTIMIZERS
    from ..fit import METHODS, MODELS

    parser = subparsers.add_parser(
        "fit", help="fit a pairwise (Boltzmann machine) or lattice Ising model to binary data",
        description="Learn the fields h and couplings J of an equilibrium Ising model from binary data: "
                    "p(s) ∝ exp(Σ h_i s_i + Σ_{i<j} J_ij s_i s_j) (pairwise) or "
                    "exp(J Σ_<ij> s_i s_j + h Σ s_i) on an L×L lattice. Positive J is ferromagnetic.")
    parser.add_argument("data", metavar="DATA",
                        help="spins .npz, .npy, text raster (one row per neuron), .mat, or images")
    add_output(parser, help_text="output fit file (.npz)")
    parser.add_argument("--model", choices=MODELS, default="pairwise", help="model (default: pairwise)")
    parser.add_argument("--method", choices=METHODS, default="boltzmann",
                        help="boltzmann: maximum likelihood with Markov chains (default); pseudolikelihood; "
                             "mean_field; tap; exact (enumeration, N ≤ 20)")
    lattice = parser.add_argument_group("lattice model")
    lattice.add_argument("--shape", type=positive_int, nargs=2, metavar=("L", "L"), default=None,
                         help="L L: the lattice of one configuration (default: from the data file)")
    lattice.add_argument("--boundary", choices=("periodic", "open"), default="periodic")
    learning = parser.add_argument_group("learning")
    learning.add_argument("--l2", type=_non_negative, default=None,
                          help="L2 penalty per sample (default: 1/M for pairwise boltzmann and pseudolikelihood, "
                               "0 otherwise)")
    learning.add_argument("--l1", type=_non_negative, default=0.0, help="L1 penalty on J (pairwise boltzmann)")
    learning.add_argument("--init", default=None,
                          help="start of boltzmann learning: pseudolikelihood (default), mean_field, tap, "
                               "independent, random, zeros, or a model/fit .npz")
    learning.add_argument("--optimizer", choices=OPTIMIZERS, default="natural",
                          help="natural (default), adam, or sgd with a fixed --learning-rate (the course notes)")
    learning.add_argument("--learning-rate", type=_positive, default=None,
                          help="step size (sgd: the fixed α; natural/adam: a multiplier)")
    learning.add_argument("--chains", type=positive_int, default=None,
                          help="persistent Markov chains (default 1000 pairwise, 128 lattice)")
    learning.add_argument("--tol", type=_positive, default=None,
                          help="converged when every moment is within tol data standard errors (default 1)")
    learning.add_argument("--max-iter", type=positive_int, default=None, help="iteration limit")
    learning.add_argument("--max-sweeps", type=positive_int, default=None, help="sweeps per iteration at most")
    learning.add_argument("--checkpoint", default=None, help="checkpoint file (default: OUTPUT.checkpoint.npz)")
    learning.add_argument("--checkpoint-seconds", type=_non_negative, default=60.0,
                          help="seconds of wall time between checkpoints (default 60; 0: every iteration); "
                               "an interrupted fit (Ctrl-C, SIGTERM) also checkpoints")
    learning.add_argument("--checkpoint-every", type=positive_int, default=None,
                          help="also checkpoint after every K-th iteration (default: by time only)")
    learning.add_argument("--resume", action="store_true", help="continue an interrupted fit from its checkpoint")
    add_sampler(parser)
    add_data_options(parser)
    parser.set_defaults(run=run)


def run(args):
    from ..backend import get_backend
    from ..fit import fit
    from ..io import load_model

    backend = get_backend(args.backend)
    check_outputs(args.force, (args.output, ".npz"))
    if args.checkpoint is not None:  # rewritten as the fit runs; read again with --resume
        check_outputs(True, (args.checkpoint, ".npz"))
    ds = load_data_from_args(args.data, args)
    shape = tuple(args.shape) if args.shape else ds.shape
    if args.model == "lattice" and shape is None:
        raise InputError(f"{args.data} does not say the lattice shape: pass --shape L L")

    options = {}
    for name, value in (("n_chains", args.chains), ("tol", args.tol), ("max_iter", args.max_iter),
                        ("max_sweeps", args.max_sweeps)):
        if value is not None:
            options[name] = value
    kwargs = {}
    default_checkpoint = None
    if args.method == "boltzmann":
        init = args.init
        if init is not None and (init.endswith(".npz") or os.path.exists(init)):
            init, _, _ = load_model(init)
        checkpoint = args.checkpoint
        if checkpoint is None:
            checkpoint = default_checkpoint = f"{args.output}.checkpoint.npz"
        kwargs = dict(rule=args.rule, backend=backend, seed=args.seed, init=init, optimizer=args.optimizer,
                      learning_rate=args.learning_rate, checkpoint=checkpoint, resume=args.resume,
                      force=args.force, progress=args.progress, checkpoint_seconds=args.checkpoint_seconds,
                      checkpoint_every=args.checkpoint_every, **options)
    else:
        ignored = [flag for flag, value in (("--init", args.init), ("--learning-rate", args.learning_rate),
                                            ("--chains", args.chains), ("--resume", args.resume or None),
                                            ("--checkpoint", args.checkpoint), ("--max-sweeps", args.max_sweeps),
                                            ("--checkpoint-every", args.checkpoint_every))
                   if value is not None]
        if ignored:
            raise InputError(f"{', '.join(ignored)} appl{'y' if len(ignored) > 1 else 'ies'} to --method boltzmann only")
        kwargs = {k: v for k, v in options.items() if k in ("tol", "max_iter")}
    try:
        with _sigterm_as_interrupt():
            result = fit(ds, model=args.model, method=args.method, shape=shape, l2=args.l2, l1=args.l1,
                         boundary=args.boundary, **kwargs)
    except KeyboardInterrupt as exc:
        if args.method != "boltzmann":
            raise
        if backend.is_root:
            print(_interrupted_message(kwargs["checkpoint"]), file=sys.stderr)
        if backend.size > 1:  # abort_on_error ends every rank
            raise
        return 128 + int(signal.SIGTERM if isinstance(exc, _Terminated) else signal.SIGINT)
    result.meta["source"] = str(args.data)
    if not backend.is_root:
        return 0
    if args.method == "boltzmann" and args.seed is None:
        seed = result.meta["seed"]
        print(f"inverse-ising fit: seed {seed} (pass --seed {seed} to reproduce)", file=sys.stderr)
    result.save(args.output, force=args.force)
    if default_checkpoint and os.path.exists(default_checkpoint):
        os.remove(default_checkpoint)
    print(f"{args.data}: {ds.n_samples} samples of {ds.n_units} units")
    print(result.summary())
    print(f"wrote {args.output}")
    return 0


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises KeyboardInterrupt, so that the fit stops the same way."""


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Raise :class:`_Terminated` on SIGTERM (a batch system's stop, ``kill``) inside the block."""
    def handler(signum, frame):
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupted_message(checkpoint):
    if os.path.exists(checkpoint):
        return (f"inverse-ising fit: interrupted; the fit so far is saved in {checkpoint}: "
                f"run the same command with --resume to continue it")
    return "inverse-ising fit: interrupted before learning began; no partial output was written"
