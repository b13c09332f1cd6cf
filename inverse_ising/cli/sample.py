"""``inverse-ising sample lattice|pairwise``: draw equilibrium samples and save them as spins .npz.

Without ``--seed`` a seed is drawn, recorded in the output's meta and printed on standard error.
"""
import sys

import numpy as np

from ..backend import resolve_seed
from ..errors import InputError
from ..io import load_model, save_spins
from ..models import LatticeIsing
from ..sampling import sample
from ..stats import energy_per_spin, magnetisation
from .common import add_output, add_sampler, check_outputs, non_negative_int, positive_int


def add_parser(subparsers):
    parser = subparsers.add_parser("sample", help="sample an equilibrium model (lattice or pairwise)",
                                   description="Draw samples of an equilibrium Ising model from independent Markov chains.")
    models = parser.add_subparsers(dest="model", metavar="MODEL")
    models.required = True
    lattice = models.add_parser("lattice", help="L×L square lattice with uniform J and h",
                                description="p(s) ∝ exp(J Σ_<ij> s_i s_j + h Σ_i s_i) on an L×L lattice.")
    lattice.add_argument("--L", type=positive_int, required=True, help="linear size (even)")
    lattice.add_argument("--J", type=float, default=0.4, help="coupling (positive = ferromagnetic; default 0.4)")
    lattice.add_argument("--h", type=float, default=0.0, help="field per site (default 0)")
    lattice.add_argument("--boundary", choices=LatticeIsing.BOUNDARIES, default="periodic")
    pairwise = models.add_parser("pairwise", help="pairwise model (Boltzmann machine) from a model file",
                                 description="Sample a PairwiseIsing model stored in a model/fit .npz.")
    pairwise.add_argument("model_file", help="model or fit .npz (kind 'pairwise' or 'lattice')")
    for sub in (lattice, pairwise):
        sub.add_argument("-n", "--n-samples", type=positive_int, required=True, help="number of samples")
        sub.add_argument("--chains", type=positive_int, default=None, help="independent chains (default min(n, 100))")
        sub.add_argument("--burn-in", type=non_negative_int, default=1000, help="sweeps before the first sample (default 1000)")
        sub.add_argument("--thin", type=positive_int, default=10, help="sweeps between samples of a chain (default 10)")
        add_sampler(sub)
        add_output(sub)
        sub.set_defaults(run=run)


def run(args):
    check_outputs(args.force, (args.output, ".npz"))
    if args.model == "lattice":
        model = LatticeIsing(args.L, args.J, args.h, args.boundary)
    else:
        model, _, _ = load_model(args.model_file)
        if model.kind == "kinetic":
            raise InputError(f"{args.model_file} holds a kinetic model; use `inverse-ising simulate kinetic`")
    seed = resolve_seed(args.seed, args.backend)
    X = sample(model, args.n_samples, rule=args.rule, backend=args.backend, seed=seed, n_chains=args.chains,
               burn_in=args.burn_in, thin=args.thin, progress=args.progress)
    if X is None:  # not the root process under MPI
        return 0
    shape = list(model.shape) if model.kind == "lattice" else None
    if args.seed is None:
        print(f"inverse-ising sample: seed {seed} (pass --seed {seed} to reproduce)", file=sys.stderr)
    meta = {"model": repr(model), "rule": args.rule, "backend": args.backend, "seed": seed,
            "burn_in": args.burn_in, "thin": args.thin}
    save_spins(args.output, X, shape=shape, meta=meta, force=args.force)
    m = magnetisation(X)
    print(f"wrote {X.shape[0]} samples of {model!r} to {args.output}")
    print(f"  <m> = {m.mean():+.4f}   <|m|> = {np.abs(m).mean():.4f}   energy per spin = {energy_per_spin(model, X).mean():+.4f}")
    return 0
