"""Seconds to a fit, on retina-like sparse data (the numbers recorded in docs/learning.md).

    pytest benchmarks/bench_fit.py --benchmark-only --benchmark-columns=mean,rounds

Data: N = 60 neurons, M = 100 000 bins, 2.5–9 % activity per neuron, 30 % of pairs coupled
(sd 0.2), sampled from the true model (tests/test_boltzmann.py's ``sparse_network``).  Each
benchmark runs once (a fit is long and deterministic for its seed); ``extra_info`` records the
iterations, the final model-sample size and the convergence statistic.
"""
import numpy as np
import pytest

import inverse_ising as ii
from inverse_ising.fit import fit

N, M = 60, 100_000


def sparse_network(N=60, seed=11):
    rng = np.random.default_rng(seed)
    J = np.triu(rng.normal(0.0, 0.2, size=(N, N)) * (rng.random((N, N)) < 0.3), 1)
    J = J + J.T
    m = 2 * rng.uniform(0.025, 0.09, size=N) - 1
    h = np.arctanh(m) - J @ m
    for r in range(2):
        X = ii.sample(ii.PairwiseIsing(h, J), 4000, rule="glauber", backend="numpy", seed=5 + r,
                      n_chains=400, burn_in=100, thin=5)
        act = np.clip((X == 1).mean(axis=0), 0.005, 0.995)
        h = h + 0.8 * (np.arctanh(m) - np.arctanh(2 * act - 1))
    return ii.PairwiseIsing(h, J)


@pytest.fixture(scope="module")
def retina_like():
    return ii.sample(sparse_network(N), M, rule="glauber", backend="auto", seed=9, n_chains=1000,
                     burn_in=200, thin=5)


def _record(benchmark, result):
    benchmark.extra_info.update({
        "converged": bool(result.converged), "iterations": int(result.iterations),
        "max_z": float(result.max_z), "noise": float(result.noise),
        "final_sample_size": int(result.history["sample_size"][-1]) if result.history else 0,
    })


@pytest.mark.parametrize("backend", ["numpy", "auto"])
def test_boltzmann_n60_m100k(benchmark, retina_like, backend):
    result = benchmark.pedantic(fit, args=(retina_like,), kwargs={"backend": backend, "seed": 1, "progress": False},
                                rounds=1, iterations=1)
    _record(benchmark, result)
    assert result.converged


def test_pseudolikelihood_n60_m100k(benchmark, retina_like):
    result = benchmark.pedantic(fit, args=(retina_like,), kwargs={"method": "pseudolikelihood"},
                                rounds=3, iterations=1)
    _record(benchmark, result)
    assert result.converged
    assert benchmark.stats["mean"] < 5.0  # the target
