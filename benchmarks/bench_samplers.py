"""Sampler throughput in the field's units, for every available backend.

    pytest benchmarks/bench_samplers.py --benchmark-only --benchmark-columns=mean,rounds

Each benchmark stores its throughput in ``extra_info``: spin-flip attempts per ns for the lattice,
µs per sweep per chain for the pairwise model, steps per minute for the kinetic model.
"""
import numpy as np
import pytest


def random_spins(shape, seed=0):
    return (2 * np.random.default_rng(seed).integers(0, 2, size=shape) - 1).astype(np.int8)


def random_pairwise(N, seed=0):
    rng = np.random.default_rng(seed)
    J = rng.normal(0.0, 1.0 / np.sqrt(N), size=(N, N))
    J = np.triu(J, 1) + np.triu(J, 1).T
    return rng.normal(0.0, 0.3, size=N), J


@pytest.mark.parametrize("rule", ["metropolis", "glauber"])
@pytest.mark.parametrize("L,chains", [(64, 64), (256, 8)])
def test_lattice_sweeps(benchmark, backend, rule, L, chains):
    spins = random_spins((chains, L, L))
    rng = backend.make_rng(np.random.SeedSequence(1), chains)
    n_sweeps = 10
    benchmark(backend.lattice_sweeps, spins, 0.44, 0.0, "periodic", rule, n_sweeps, rng)
    benchmark.extra_info["flips_per_ns"] = n_sweeps * chains * L * L / benchmark.stats["mean"] / 1e9


@pytest.mark.parametrize("rule", ["metropolis", "glauber"])
@pytest.mark.parametrize("N,chains", [(40, 1000), (160, 1000)])
def test_pairwise_sweeps(benchmark, backend, rule, N, chains):
    h, J = random_pairwise(N)
    spins = random_spins((chains, N))
    rng = backend.make_rng(np.random.SeedSequence(1), chains)
    n_sweeps = 5
    benchmark(backend.pairwise_sweeps, spins, h, J, rule, n_sweeps, rng)
    benchmark.extra_info["us_per_sweep_per_chain"] = benchmark.stats["mean"] / (n_sweeps * chains) * 1e6
    benchmark.extra_info["flips_per_ns"] = n_sweeps * chains * N / benchmark.stats["mean"] / 1e9


@pytest.mark.parametrize("N", [160])
def test_kinetic_steps(benchmark, backend, N):
    h, J = random_pairwise(N)
    spins = random_spins((1, N))
    rng = backend.make_rng(np.random.SeedSequence(1), 1)
    n_steps = 2000
    out = np.empty((n_steps, 1, N), dtype=np.int8)
    benchmark(backend.kinetic_steps, spins, h, J, n_steps, rng, None, out)
    benchmark.extra_info["steps_per_minute"] = n_steps / benchmark.stats["mean"] * 60
