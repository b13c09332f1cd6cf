#!/usr/bin/env python
"""Print a backend comparison table, every figure measured in this one run.

    python scripts/compare_backends.py [--quick] [--repeat R]

Units are the field's: spin-flip attempts per ns (lattice; higher is better), µs per sweep per
chain (pairwise; lower is better), million steps per minute (kinetic; higher is better).  Each
figure is the best of R timed calls (wall clock) after one warm-up call; "cython ×1" runs one
thread, "cython ×T" all the threads the backend would use.  The header states the machine and its
load average, since other processes sharing the cores slow every figure.
"""
import argparse
import os
import platform
import time

import numpy as np

from inverse_ising.backend import get_backend
from inverse_ising.errors import InputError
from inverse_ising.onsager import K_C


def random_spins(shape, seed=0):
    """Independent ±1 spins (int8), the hot start of every lattice and pairwise timing."""
    return (2 * np.random.default_rng(seed).integers(0, 2, size=shape) - 1).astype(np.int8)


def random_pairwise(N, seed=0):
    """(h, J) of a Sherrington–Kirkpatrick-like model: Jᵢⱼ ~ Normal(0, 1/N) symmetric, hᵢ ~ Normal(0, 0.3)."""
    rng = np.random.default_rng(seed)
    J = rng.normal(0.0, 1.0 / np.sqrt(N), size=(N, N))
    J = np.triu(J, 1) + np.triu(J, 1).T
    return rng.normal(0.0, 0.3, size=N), J


def best_time(call, repeat):
    call()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return min(times)


def cpu_name():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cases(quick):
    """(label, unit, kind, parameters) of every row."""
    scale = 0.25 if quick else 1.0
    rows = []
    for rule in ("metropolis", "glauber"):
        rows.append((f"lattice L=256, 8 chains, {rule}", "flips/ns", "lattice", dict(L=256, C=8, rule=rule, n=max(2, int(10 * scale)))))
    for N, C, n in ((40, 1000, 5), (160, 1000, 5), (1000, 100, 2)):
        for rule in ("metropolis", "glauber"):
            rows.append((f"pairwise N={N}, {C} chains, {rule}", "µs/sweep/chain", "pairwise", dict(N=N, C=C, rule=rule, n=n)))
    rows.append(("kinetic N=160, 1 trial", "M steps/min", "kinetic", dict(N=160, n=max(500, int(5000 * scale)))))
    return rows


def measure(backend, kind, p, repeat):
    if kind == "lattice":
        spins = random_spins((p["C"], p["L"], p["L"]))
        rng = backend.make_rng(np.random.SeedSequence(1), p["C"])
        t = best_time(lambda: backend.lattice_sweeps(spins, K_C, 0.0, "periodic", p["rule"], p["n"], rng), repeat)
        return p["n"] * p["C"] * p["L"] ** 2 / t / 1e9
    if kind == "pairwise":
        h, J = random_pairwise(p["N"])
        spins = random_spins((p["C"], p["N"]))
        rng = backend.make_rng(np.random.SeedSequence(1), p["C"])
        n = p["n"] if backend.name != "numpy" or p["N"] < 1000 else 1
        t = best_time(lambda: backend.pairwise_sweeps(spins, h, J, p["rule"], n, rng), repeat)
        return t / (n * p["C"]) * 1e6
    h, J = random_pairwise(p["N"])
    spins = random_spins((1, p["N"]))
    rng = backend.make_rng(np.random.SeedSequence(1), 1)
    n = p["n"] if backend.name != "numpy" else max(200, p["n"] // 10)
    out = np.empty((n, 1, p["N"]), np.int8)
    t = best_time(lambda: backend.kinetic_steps(spins, h, J, n, rng, None, out), repeat)
    return n / t * 60 / 1e6


def extras(repeat, threads):
    """Rows of the Cython backend's extra paths: float32 pairwise, multi-spin coding, Wolff."""
    from inverse_ising.backends.cython_backend import CythonBackend, msc_pack

    rows = []
    for N, C, n in ((40, 1000, 5), (160, 1000, 5), (1000, 100, 2)):
        values = []
        for t in (1, threads):
            b = CythonBackend(n_threads=t, dtype=np.float32)
            values.append(measure(b, "pairwise", dict(N=N, C=C, rule="metropolis", n=n), repeat))
        rows.append((f"pairwise float32 N={N}, metropolis", "µs/sweep/chain", values))
    for rule in ("metropolis", "glauber"):
        values = []
        for t in (1, threads):
            b = CythonBackend(n_threads=t)
            words = msc_pack(random_spins((64 * 4, 256, 256)))
            rng = b.make_rng(np.random.SeedSequence(1), 4)
            sec = best_time(lambda: b.msc_sweeps(words, K_C, 0.0, rule, 5, rng), repeat)
            values.append(5 * 64 * 4 * 256 * 256 / sec / 1e9)
        rows.append((f"multi-spin coded L=256 at K_c, 256 replicas, {rule}", "flips/ns", values))
    b = CythonBackend(n_threads=1)
    spins = np.ones((1, 128, 128), np.int8)
    rng = b.make_rng(np.random.SeedSequence(1), 1)
    b.wolff_updates(spins, K_C, "periodic", 300, rng)
    flipped = []
    sec = best_time(lambda: flipped.append(b.wolff_updates(spins, K_C, "periodic", 300, rng).sum()), repeat)
    rows.append(("Wolff L=128 at K_c (per flipped spin)", "flips/ns", [float(np.min(flipped)) / sec / 1e9, None]))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer sweeps per call (rougher figures)")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per figure (best kept)")
    args = parser.parse_args(argv)

    numpy_backend = get_backend("numpy")
    try:
        from inverse_ising.backends.cython_backend import CythonBackend, load_kernels

        get_backend("cython")
        threads = CythonBackend().n_threads
        cy1, cyT = CythonBackend(n_threads=1), CythonBackend(n_threads=threads)
        build = load_kernels().__name__.rsplit(".", 1)[-1]
    except (ImportError, InputError) as exc:
        cy1 = cyT = None
        threads, build = 0, f"not built ({exc})"

    load = os.getloadavg()
    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs; python {platform.python_version()}, numpy {np.__version__}")
    print(f"cython kernels: {build}; threads: {threads}; load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    head = f"{'case':<52} {'unit':<15} {'numpy':>9} {'cython ×1':>10} {'cython ×' + str(threads):>10} {'speed-up':>9}"
    print(head)
    print("-" * len(head))
    for label, unit, kind, p in cases(args.quick):
        ref = measure(numpy_backend, kind, p, max(1, args.repeat // 2) if kind == "pairwise" else args.repeat)
        one = measure(cy1, kind, p, args.repeat) if cy1 else None
        many = measure(cyT, kind, p, args.repeat) if cyT else None
        speedup = None
        if many is not None:
            speedup = ref / many if unit.startswith("µs") else many / ref
        cells = [f"{v:>9.3f}" if v is not None else f"{'—':>9}" for v in (ref,)]
        cells += [f"{v:>10.3f}" if v is not None else f"{'—':>10}" for v in (one, many)]
        cells.append(f"{speedup:>8.1f}×" if speedup else f"{'—':>9}")
        print(f"{label:<52} {unit:<15} " + " ".join(cells))
    if cy1:
        for label, unit, (one, many) in extras(args.repeat, threads):
            cells = [f"{'—':>9}"] + [f"{v:>10.3f}" if v is not None else f"{'—':>10}" for v in (one, many)] + [f"{'':>9}"]
            print(f"{label:<52} {unit:<15} " + " ".join(cells))
    load = os.getloadavg()
    print(f"load average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
