"""Seconds to a fit, on retina-like sparse data (the numbers recorded in docs/learning.md).

    pytest benchmarks/bench_fit.py --benchmark-only --benchmark-columns=mean,rounds

Data: N = 60 neurons, M = 100 000 bins, 2.5–9 % activity per neuron, 30 % of pairs coupled
(sd 0.2), sampled from the true model (tests/test_boltzmann.py's ``sparse_network``).  Each
benchmark runs once (a fit is long and deterministic for its seed); ``extra_info`` records the
iterations, the final model-sample size and the convergence statistic.
"""
import sys
from pathlib import Path

import pytest

import inverse_ising as ii
from inverse_ising.fit import fit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_boltzmann import sparse_network  # noqa: E402  (the convergence test's true model)

N, M = 60, 100_000


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
