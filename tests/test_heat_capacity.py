"""Heat capacity by parallel tempering and multiple-histogram reweighting, entropy and
multi-information, against enumeration (additive over independent blocks) and Kaufman's torus."""

import numpy as np
import pytest
from scipy.special import entr
from test_log_partition import block_models

import inverse_ising as ii
from inverse_ising.errors import InputError
from inverse_ising.heat_capacity import (
    entropy,
    free_energies,
    heat_capacity,
    multi_information,
    reweighted_moments,
)
from inverse_ising.log_partition import independent_blocks
from inverse_ising.synthetic import retina_pairwise_model

TEMPERATURES = (0.8, 1.0, 1.3)


def test_tempered_heat_capacity_of_independent_blocks():
    blocks = block_models()
    model = independent_blocks(blocks)
    exact = np.array([sum(b.n_spins * ii.exact_solve(b.scaled(1 / t)).specific_heat for b in blocks) / model.n_spins
                      for t in TEMPERATURES])
    result = heat_capacity(model, TEMPERATURES, seed=1)
    assert result.method == "tempering" and np.array_equal(result.temperatures, TEMPERATURES)
    assert result.ladder[0] == pytest.approx(0.8) and result.ladder[-1] == pytest.approx(1.3)
    assert np.all(np.abs(result.C / exact - 1.0) <= 0.05)
    assert np.all(result.stderr < 0.02 * exact)
    exact_u = np.array([sum(b.n_spins * t * ii.exact_solve(b.scaled(1 / t)).energy for b in blocks) / model.n_spins
                        for t in TEMPERATURES])
    assert np.all(np.abs(result.energy - exact_u) <= 4 * result.energy_stderr)


def test_tempered_heat_capacity_of_the_torus_against_kaufman():
    L, T = 8, np.array([2.0, 2.27, 2.6])  # J = 1: K = 1/T around K_c ≈ 0.4407
    result = heat_capacity(ii.LatticeIsing(L, 1.0), T, seed=2)
    exact = np.array([ii.kaufman_specific_heat(L, 1.0 / t) for t in T])
    assert np.all(np.abs(result.C / exact - 1.0) <= 0.05)
    assert np.all(np.abs(result.C - exact) <= 4 * result.stderr)


def test_exact_heat_capacity_up_to_20_spins():
    model = retina_pairwise_model(10, connectivity=0.5).model
    result = heat_capacity(model, [0.7, 1.0])
    assert result.method == "exact"
    states = ((np.arange(1024)[:, None] >> np.arange(10)) & 1) * 2 - 1
    E = model.energy(states.astype(np.int8))
    for t, c in zip(result.temperatures, result.C):
        p = np.exp(-(E - E.min()) / t)
        p /= p.sum()
        assert c == pytest.approx((p @ E**2 - (p @ E) ** 2) / (10 * t * t), rel=1e-9)


def test_reweighting_exact_samples_between_temperatures():
    model = retina_pairwise_model(10, connectivity=0.5).model
    betas = np.array([1.4, 1.0, 0.7])
    x = np.stack([model.energy(ii.exact_sample(model.scaled(b), 20000, seed=k)) for k, b in enumerate(betas)], axis=1)
    f = free_energies(x, betas)
    log_z = np.array([ii.exact_log_z(model.scaled(b)) for b in betas])
    assert np.allclose(f, -(log_z - log_z[0]), atol=0.03)
    target = 0.85  # between the rungs
    mean, var = reweighted_moments(x, betas, f, [target])
    exact = ii.exact_solve(model.scaled(target))
    assert var[0] * target**2 / 10 == pytest.approx(exact.specific_heat, rel=0.05)
    assert mean[0] * target / 10 == pytest.approx(exact.energy, rel=0.02)


def test_entropy_by_ais_on_independent_blocks():
    blocks = block_models()
    model = independent_blocks(blocks)
    exact = sum(b.n_spins * ii.exact_solve(b).energy + ii.exact_log_z(b) for b in blocks) / model.n_spins
    result = entropy(model, seed=3)
    assert result.log_z.method == "ais"
    assert abs(result.value - exact) <= 4 * result.stderr and result.stderr < 0.002


def test_entropy_and_multi_information_by_enumeration():
    model = retina_pairwise_model(12, connectivity=0.5).model
    sol = ii.exact_solve(model)
    ent = entropy(model)
    assert ent.value == pytest.approx(sol.energy + sol.log_z / 12) and ent.stderr == 0.0
    p = (1 + sol.mean) / 2
    s1 = float(np.sum(entr(p) + entr(1 - p)))
    info = multi_information(model)
    assert info.value == pytest.approx(s1 - 12 * ent.value) and info.value > 0 and info.stderr == 0.0
    X = ii.exact_sample(model, 4000, seed=2)
    from_data = multi_information(model, X)
    assert from_data.model_entropy == pytest.approx(info.model_entropy)
    assert 0 < from_data.stderr and abs(from_data.value - info.value) <= 4 * from_data.stderr


@pytest.mark.parametrize("call", [
    lambda: heat_capacity(ii.LatticeIsing(4, 0.3), [1.0, -1.0]),
    lambda: heat_capacity(ii.LatticeIsing(4, 0.3), [1.0], method="wham"),
    lambda: heat_capacity(ii.LatticeIsing(6, 0.3), [1.0], n_sweeps=1, thin=2),
    lambda: entropy(ii.KineticIsing(np.zeros(3), np.zeros((3, 3)))),
    lambda: entropy(ii.LatticeIsing(6, 0.3), reverse=False),
    lambda: multi_information(ii.LatticeIsing(2, 0.3), np.ones((5, 3))),
])
def test_bad_input_raises_one_input_error(call):
    with pytest.raises(InputError):
        call()
