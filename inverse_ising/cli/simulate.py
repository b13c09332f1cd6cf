"""``inverse-ising simulate kinetic``: run parallel Glauber dynamics of a kinetic Ising model.

Without ``--seed`` a seed is drawn, recorded in the outputs' meta and printed on standard error.
"""
import sys

import numpy as np

from ..backend import get_backend, resolve_seed
from ..errors import InputError
from ..io import load_model, save_model, save_spins
from ..models import KineticIsing
from ..sampling import simulate
from .common import add_backend, add_output, check_outputs, non_negative_int, positive_int


def add_parser(subparsers):
    parser = subparsers.add_parser("simulate", help="simulate the kinetic Ising model",
                                   description="Run the kinetic Ising model's parallel Glauber dynamics.")
    models = parser.add_subparsers(dest="model", metavar="MODEL")
    models.required = True
    kinetic = models.add_parser("kinetic", help="kinetic Ising model, from a model file or random couplings",
                                description="P(s(t+1)|s(t)) = Π_i exp(s_i(t+1) H_i(t)) / 2cosh H_i(t), "
                                            "H_i(t) = h_i + Σ_j J_ij s_j(t).")
    source = kinetic.add_mutually_exclusive_group(required=True)
    source.add_argument("model_file", nargs="?", help="kinetic model/fit .npz")
    source.add_argument("--random", type=positive_int, metavar="N",
                        help="random asymmetric model of N spins: J_ij ~ N(0, g²/N), h_i ~ N(h0, 0.1²)")
    kinetic.add_argument("--g", type=float, default=1.0, help="coupling strength g of --random (default 1)")
    kinetic.add_argument("--h0", type=float, default=0.0, help="mean field of --random (default 0)")
    kinetic.add_argument("-n", "--n-steps", type=positive_int, required=True, help="time steps to record")
    kinetic.add_argument("--burn-in", type=non_negative_int, default=0, help="steps discarded first")
    kinetic.add_argument("--save-model", default=None, help="also write the (random) model to this .npz")
    add_backend(kinetic)
    add_output(kinetic)
    kinetic.set_defaults(run=run)


def run(args):
    check_outputs(args.force, (args.output, ".npz"), (args.save_model, ".npz"))
    seed = resolve_seed(args.seed, args.backend)
    if args.model_file:
        model, _, _ = load_model(args.model_file)
        if model.kind != "kinetic":
            raise InputError(f"{args.model_file} holds a {model.kind} model; use `inverse-ising sample`")
    else:
        rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
        N = args.random
        J = rng.normal(0.0, args.g / np.sqrt(N), size=(N, N))
        np.fill_diagonal(J, 0.0)
        model = KineticIsing(rng.normal(args.h0, 0.1, size=N), J)
    S = simulate(model, args.n_steps, seed=seed, burn_in=args.burn_in, backend=args.backend, progress=args.progress)
    if not get_backend(args.backend).is_root:  # under mpiexec only rank 0 writes
        return 0
    if args.seed is None:
        print(f"inverse-ising simulate: seed {seed} (pass --seed {seed} to reproduce)", file=sys.stderr)
    meta = {"model": repr(model), "seed": seed, "burn_in": args.burn_in, "kind": "kinetic time series"}
    save_spins(args.output, S, meta=meta, force=args.force)
    if args.save_model:
        save_model(args.save_model, model, meta={"source": "random", "g": args.g, "seed": seed}, force=args.force)
    print(f"wrote {S.shape[0]} steps of {model!r} to {args.output}; mean activity <s> = {S.mean():+.4f}")
    return 0
