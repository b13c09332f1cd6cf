"""Two builds of the multi-spin-coded kernel timed in one process, calls alternating.

    python benchmarks/msc_versions.py OLD.so NEW.so [--rounds 40] [--relax 30]

OLD.so and NEW.so are compiled kernel modules (``_kernels*.so`` of two checkouts, built for
instance with ``python setup.py build_ext --inplace``). Their ``msc_sweeps`` takes the tables of
the installed ``cython_backend.msc_tables``. On a shared machine whose speed moves from minute to
minute, alternating calls is what makes the two comparable: the ratio of their median times.
L = 256 at K_c, 4 words (256 replicas) relaxed from random spins (30 sweeps by default, as the
benchmark), 4 sweeps per timed call, one thread.
"""
import argparse
import importlib.machinery
import importlib.util
import os
import time

import numpy as np

from inverse_ising.backends.cython_backend import CythonBackend, msc_pack, msc_tables
from inverse_ising.onsager import K_C

L, WORDS, SWEEPS = 256, 4, 4


def load(path, tag):
    """The compiled module at ``path``, imported under a name of its own (two builds, one process)."""
    name = os.path.basename(path).split(".")[0]
    loader = importlib.machinery.ExtensionFileLoader(f"{tag}.{name}", path)
    spec = importlib.util.spec_from_file_location(f"{tag}.{name}", path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--relax", type=int, default=30, help="sweeps from random spins before timing")
    args = parser.parse_args()
    builds = {"old": load(args.old, "old"), "new": load(args.new, "new")}
    start = msc_pack(np.where(np.random.default_rng(0).random((64 * WORDS, L, L)) < 0.5, -1, 1).astype(np.int8))
    for rule in ("metropolis", "glauber"):
        aligned, cls_list, gbits = msc_tables(K_C, 0.0, rule)
        words = {tag: start.copy() for tag in builds}
        states = {tag: CythonBackend(n_threads=1).make_rng(np.random.SeedSequence(1), WORDS).state.copy() for tag in builds}
        times = {tag: [] for tag in builds}
        for round_ in range(args.rounds + 1):
            for tag, kernels in builds.items():
                t0 = time.perf_counter()
                kernels.msc_sweeps(words[tag], aligned, cls_list, gbits, rule == "glauber",
                                   args.relax if round_ == 0 else SWEEPS, states[tag], 1)
                if round_:  # the first call relaxes the lattice
                    times[tag].append(time.perf_counter() - t0)
        rate = {tag: SWEEPS * 64 * WORDS * L * L / np.median(t) / 1e9 for tag, t in times.items()}
        print(f"{rule:<11} old {rate['old']:.2f}  new {rate['new']:.2f} flips/ns (medians of {args.rounds});"
              f" new/old {rate['new'] / rate['old']:.2f}")


if __name__ == "__main__":
    main()
