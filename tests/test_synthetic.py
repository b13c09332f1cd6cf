"""The near-critical retina-like family of inverse_ising.synthetic against its definition."""
import itertools

import numpy as np
import pytest

from inverse_ising import synthetic
from inverse_ising.errors import InputError
from inverse_ising.exact import exact_solve

SMALL = 14  # the small member: near_critical_model(14, beta, seed=0), enumerated exactly
BETAS = np.round(np.arange(0.6, 1.61, 0.1), 2)


def test_members_scale_the_whole_energy():
    base = synthetic.near_critical_model(SMALL, 1.0)
    member = synthetic.near_critical_model(SMALL, 1.3)
    np.testing.assert_allclose(member.model.J, 1.3 * base.model.J)
    np.testing.assert_allclose(member.model.h, 1.3 * base.model.h)
    np.testing.assert_allclose(member.W, 1.3 * base.W)
    np.testing.assert_allclose(member.b, 1.3 * base.b)
    np.testing.assert_array_equal(member.target_rates, base.target_rates)
    assert member.params["beta"] == 1.3
    iu = np.triu_indices(SMALL, 1)
    assert np.mean(base.W[iu] > 0) > 0.9  # all pairs coupled, nearly all excitatory


def test_specific_heat_is_beta_squared_energy_variance():
    """C(β) = β² Var_β(E_base)/N, with Var_β summed over all 2^N states by hand."""
    n, beta = 10, 1.4
    base = synthetic.near_critical_model(n, 1.0, seed=3).model
    S = np.array(list(itertools.product([-1, 1], repeat=n)), dtype=float)
    E = base.energy(S)
    p = np.exp(-beta * (E - E.min()))
    p /= p.sum()
    var = p @ E**2 - (p @ E) ** 2
    member = synthetic.near_critical_model(n, beta, seed=3)
    assert synthetic.specific_heat(member) == pytest.approx(beta**2 * var / n, rel=1e-9)


def test_small_member_specific_heat_peaks_inside_the_family():
    C = np.array([synthetic.specific_heat(synthetic.near_critical_model(SMALL, b)) for b in BETAS])
    peak = int(np.argmax(C))
    assert 0 < peak < BETAS.size - 1
    assert 0.8 <= BETAS[peak] <= 1.2
    assert C[peak] > 2 * C[0] and C[peak] > 2 * C[-1]


def test_small_member_high_activity_basin_holds_comparable_mass():
    """At β = 1 the all-active side (K > N/2) holds at least as much mass as the sparse side."""
    pk = exact_solve(synthetic.near_critical_model(SMALL, 1.0).model).magnetisation_pmf
    high = pk[SMALL // 2 + 1:].sum()
    low = pk[:SMALL // 2 + 1].sum()
    assert high > 0.9 * low
    assert pk[-3:].sum() > 0.3  # a concentrated state near K = N, not a broad shoulder
    assert pk[:4].sum() > 0.3   # and a sparse one near K = 0


def test_named_member_data_stay_in_the_sparse_basin():
    data = synthetic.near_critical_data(5000, seed=1)  # the named member, N = 50
    K = (data.spins.astype(np.int64) + 1).sum(axis=1) // 2
    assert data.spins.shape == (5000, 50)
    assert 0.05 <= K.mean() / 50 <= 0.08
    assert K.max() >= 20
    assert np.mean(K >= 40) < 0.005
    assert data.meta["model"]["beta"] == synthetic.NEAR_CRITICAL_BETA


def test_data_start_from_given_states():
    member = synthetic.near_critical_model(SMALL, 2.5)
    silent = synthetic.near_critical_data(500, member, seed=2, sweeps=5)
    active = synthetic.near_critical_data(500, member, seed=2, sweeps=5, init=np.ones((1, SMALL), np.int8))
    assert silent.spins.mean() < -0.8 and active.spins.mean() > 0.8  # both basins are metastable at β = 2.5


def test_bad_family_arguments():
    with pytest.raises(InputError, match="beta must be positive"):
        synthetic.near_critical_model(SMALL, 0.0)
    with pytest.raises(InputError, match="coupling_spread"):
        synthetic.near_critical_model(SMALL, 1.0, coupling_spread=-1)
    with pytest.raises(InputError, match="pairwise model"):
        synthetic.specific_heat(synthetic.retina_kinetic_model(5))
