"""Boltzmann learning with replica exchange: the path taken when chains run away.

The switch is forced here (the runaway threshold set below zero, so the first measurement
triggers it) on small data whose exact maximum-likelihood model is known: the tempered learner
must still reach it, record its ladder, and resume from a checkpoint bit for bit.
"""
import numpy as np
import pytest

from inverse_ising import boltzmann
from inverse_ising.exact import exact_mle, exact_sample
from inverse_ising.fit import fit
from inverse_ising.models import PairwiseIsing

OPTIONS = {"backend": "numpy", "seed": 3, "n_chains": 200, "progress": False}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    J = np.triu(rng.normal(0.0, 0.3, (8, 8)), 1)
    truth = PairwiseIsing(rng.normal(-0.3, 0.2, 8), J + J.T)
    return exact_sample(truth, 4000, seed=2)


@pytest.fixture
def always_runaway(monkeypatch):
    monkeypatch.setattr(boltzmann, "RUNAWAY", -1.0)


def test_tempered_learning_reaches_the_exact_mle(data, always_runaway):
    result = fit(data, **OPTIONS)
    assert result.converged
    temperatures = result.history["temperatures"]
    assert temperatures[0] == 1 and np.all(temperatures[1:] >= 2)  # tempered from the second iteration
    mle = exact_mle(data, l2=1.0 / data.shape[0])
    iu = np.triu_indices(8, 1)
    # as close to the penalised optimum as the untempered learner gets (its N = 20 test: ≤ 0.1 SE)
    assert np.max(np.abs(result.J[iu] - mle.J[iu]) / result.se_J[iu]) < 1.0


class _Crash(Exception):
    pass


def test_tempered_checkpoint_resumes_bit_for_bit(data, always_runaway, tmp_path, monkeypatch):
    options = dict(OPTIONS, max_iter=6, check_noise=0.01, max_sweeps=40)  # runs all six iterations
    with pytest.warns(RuntimeWarning, match="without converging"):
        whole = fit(data, **options)
    original = boltzmann._PairwiseProblem.measure
    calls = {"n": 0}

    def measure(problem, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise _Crash
        return original(problem, *args, **kwargs)

    path = tmp_path / "ckpt.npz"
    monkeypatch.setattr(boltzmann._PairwiseProblem, "measure", measure)
    with pytest.raises(_Crash):
        fit(data, checkpoint=path, checkpoint_seconds=0, **options)
    monkeypatch.setattr(boltzmann._PairwiseProblem, "measure", original)
    with pytest.warns(RuntimeWarning, match="without converging"):
        resumed = fit(data, checkpoint=path, resume=True, **options)
    np.testing.assert_array_equal(resumed.J, whole.J)
    np.testing.assert_array_equal(resumed.h, whole.h)
    assert resumed.history["temperatures"][-1] == whole.history["temperatures"][-1] >= 2
