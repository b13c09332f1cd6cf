"""Sampler throughput in the field's units, for every available backend.

    pytest benchmarks/bench_samplers.py --benchmark-only --benchmark-columns=mean,rounds

Each benchmark stores its throughput in ``extra_info``: spin-flip attempts per ns for the lattice,
µs per sweep per chain for the pairwise model, steps per minute for the kinetic model (wall-clock
time of the whole call, all threads of the backend; ``threads`` says how many).  The benchmarks
after the interface ones exercise the Cython backend's extra paths: float32 pairwise kernels,
multi-spin coding (64 lattice replicas per word) and Wolff clusters.  ``scripts/compare_backends.py``
prints one comparison table from a single run.
"""
import sys
from pathlib import Path

import numpy as np
import pytest

from inverse_ising.backend import get_backend
from inverse_ising.errors import InputError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from compare_backends import K_C, random_pairwise, random_spins  # noqa: E402  (the one-run table's inputs)


def cython_or_skip(**options):
    try:
        get_backend("cython")
    except InputError as exc:
        pytest.skip(str(exc))
    from inverse_ising.backends.cython_backend import CythonBackend

    return CythonBackend(**options)


def _threads(backend):
    return getattr(backend, "n_threads", 1)


# ------------------------------------------------------------------------------ the interface
@pytest.mark.parametrize("rule", ["metropolis", "glauber"])
@pytest.mark.parametrize("L,chains", [(64, 64), (256, 8)])
def test_lattice_sweeps(benchmark, backend, rule, L, chains):
    spins = random_spins((chains, L, L))
    rng = backend.make_rng(np.random.SeedSequence(1), chains)
    n_sweeps = 10
    benchmark(backend.lattice_sweeps, spins, 0.44, 0.0, "periodic", rule, n_sweeps, rng)
    benchmark.extra_info["flips_per_ns"] = n_sweeps * chains * L * L / benchmark.stats["mean"] / 1e9
    benchmark.extra_info["threads"] = _threads(backend)


@pytest.mark.parametrize("rule", ["metropolis", "glauber"])
@pytest.mark.parametrize("N,chains,n_sweeps", [(40, 1000, 5), (160, 1000, 5), (1000, 100, 2)])
def test_pairwise_sweeps(benchmark, backend, rule, N, chains, n_sweeps):
    h, J = random_pairwise(N)
    spins = random_spins((chains, N))
    rng = backend.make_rng(np.random.SeedSequence(1), chains)
    benchmark(backend.pairwise_sweeps, spins, h, J, rule, n_sweeps, rng)
    benchmark.extra_info["us_per_sweep_per_chain"] = benchmark.stats["mean"] / (n_sweeps * chains) * 1e6
    benchmark.extra_info["flips_per_ns"] = n_sweeps * chains * N / benchmark.stats["mean"] / 1e9
    benchmark.extra_info["threads"] = _threads(backend)


@pytest.mark.parametrize("N", [160])
def test_kinetic_steps(benchmark, backend, N):
    h, J = random_pairwise(N)
    spins = random_spins((1, N))
    rng = backend.make_rng(np.random.SeedSequence(1), 1)
    n_steps = 2000
    out = np.empty((n_steps, 1, N), dtype=np.int8)
    benchmark(backend.kinetic_steps, spins, h, J, n_steps, rng, None, out)
    benchmark.extra_info["steps_per_minute"] = n_steps / benchmark.stats["mean"] * 60


@pytest.mark.parametrize("M,N", [(100_000, 160)])
def test_sufficient_statistics(benchmark, backend, M, N):
    S = random_spins((M, N))
    benchmark(backend.sufficient_statistics, S)
    benchmark.extra_info["ns_per_sample"] = benchmark.stats["mean"] / M * 1e9


# ------------------------------------------------------------------------------ Cython extras
@pytest.mark.parametrize("rule", ["metropolis", "glauber"])
@pytest.mark.parametrize("N,chains,n_sweeps", [(40, 1000, 5), (160, 1000, 5), (1000, 100, 2)])
def test_pairwise_sweeps_float32(benchmark, rule, N, chains, n_sweeps):
    backend = cython_or_skip(dtype=np.float32)
    h, J = random_pairwise(N)
    spins = random_spins((chains, N))
    rng = backend.make_rng(np.random.SeedSequence(1), chains)
    benchmark(backend.pairwise_sweeps, spins, h, J, rule, n_sweeps, rng)
    benchmark.extra_info["us_per_sweep_per_chain"] = benchmark.stats["mean"] / (n_sweeps * chains) * 1e6
    benchmark.extra_info["threads"] = _threads(backend)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("rule", ["metropolis", "glauber"])
def test_multispin_coded_lattice(benchmark, rule, threads):
    """64 replicas per uint64 word, L = 256 at K_c after 30 sweeps from random spins: flip attempts
    per ns (all replicas)."""
    backend = cython_or_skip(n_threads=threads)
    from inverse_ising.backends.cython_backend import msc_pack

    words, L, n_sweeps = 4, 256, 10
    packed = msc_pack(random_spins((64 * words, L, L)))
    rng = backend.make_rng(np.random.SeedSequence(1), words)
    backend.msc_sweeps(packed, K_C, 0.0, rule, 30, rng)  # past the first sweeps of the quench from random spins
    benchmark(backend.msc_sweeps, packed, K_C, 0.0, rule, n_sweeps, rng)
    flips = n_sweeps * 64 * words * L * L
    benchmark.extra_info["flips_per_ns"] = flips / benchmark.stats["mean"] / 1e9
    benchmark.extra_info["flips_per_ns_per_core"] = benchmark.extra_info["flips_per_ns"] / threads


@pytest.mark.parametrize("L", [64, 256])
def test_wolff_clusters(benchmark, L):
    """Wolff single-cluster updates at K_c (equilibrated start): ns per flipped spin."""
    backend = cython_or_skip(n_threads=1)
    spins = np.ones((1, L, L), np.int8)
    rng = backend.make_rng(np.random.SeedSequence(1), 1)
    backend.wolff_updates(spins, K_C, "periodic", 200, rng)
    n_clusters = 200
    sizes = []
    benchmark(lambda: sizes.append(backend.wolff_updates(spins, K_C, "periodic", n_clusters, rng).sum()))
    flipped = float(np.mean(sizes))
    benchmark.extra_info["ns_per_flipped_spin"] = benchmark.stats["mean"] / flipped * 1e9
    benchmark.extra_info["mean_cluster_fraction"] = flipped / n_clusters / (L * L)
