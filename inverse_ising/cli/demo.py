"""``inverse-ising demo``: a short run on built-in (generated) data that shows the package working."""
import numpy as np

from ..models import LatticeIsing
from ..onsager import K_C, kaufman_energy
from ..sampling import sample
from ..stats import mean_and_error
from .common import add_backend


def add_parser(subparsers):
    parser = subparsers.add_parser("demo", help="run the demonstration on built-in data",
                                   description="Sample 16×16 Ising lattices at three couplings and compare "
                                               "the energy with Kaufman's exact finite-lattice result.")
    add_backend(parser)
    parser.set_defaults(run=run, seed=2026)


def run(args):
    L, chains, samples = 16, 32, 200
    print(f"Metropolis sampling of the {L}x{L} periodic Ising model, {chains} chains x {samples} samples")
    print(f"{'K':>8} {'u sampled':>12} {'± error':>9} {'u exact':>11} {'z':>6}")
    for K in (0.3, K_C, 0.5):
        model = LatticeIsing(L, K)
        X = sample(model, chains * samples, seed=args.seed, n_chains=chains, burn_in=300, thin=1, init="up",
                   backend=args.backend, progress=args.progress)
        u, err = mean_and_error(-model.bond_sum(X).reshape(samples, chains) / model.n_spins)
        exact = kaufman_energy(L, K)
        print(f"{K:8.4f} {u:12.5f} {err:9.5f} {exact:11.5f} {(u - exact) / err:6.2f}")
    return 0
