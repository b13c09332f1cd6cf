"""Onsager's and Kaufman's exact 2D Ising results against REFERENCE_VALUES.md and enumeration."""
import math

import numpy as np
import pytest

from inverse_ising.errors import InputError
from inverse_ising.exact import exact_solve, lattice_magnetisation
from inverse_ising.models import LatticeIsing
from inverse_ising.onsager import (
    K_C,
    kaufman_energy,
    kaufman_log_z,
    kaufman_specific_heat,
    onsager_energy,
    onsager_magnetisation,
)


def test_critical_coupling():
    assert K_C == pytest.approx(0.44068679350977147, abs=1e-16)
    assert math.sinh(2 * K_C) == pytest.approx(1.0, abs=1e-15)


# ------------------------------------------------------------------------------------ Onsager
@pytest.mark.parametrize("K,u,m0", [
    (0.3, -0.704499070832, 0.0),
    (0.4, -1.106079203746, 0.0),
    (0.5, -1.745564575313, 0.911319377877),
    (0.6, -1.909086177684, 0.973608667440),
])
def test_onsager_reference_values(K, u, m0):
    assert onsager_energy(K) == pytest.approx(u, abs=5e-13)
    assert onsager_magnetisation(K) == pytest.approx(m0, abs=5e-13)


def test_onsager_at_and_near_critical_point():
    assert onsager_energy(K_C) == -math.sqrt(2.0)
    # u is continuous with a logarithmically divergent slope: u(K_c ± δ) + √2 ≈ ∓ a δ ln(1/δ),
    # a ≈ 2.5; evaluated without loss of precision down to δ = 1e−15.
    for dk in (1e-15, 1e-12, 1e-9, 1e-6):
        for sign in (-1, 1):
            a = -sign * (onsager_energy(K_C + sign * dk) + math.sqrt(2.0)) / (dk * math.log(1 / dk))
            assert 2.4 < a < 2.6, (dk, sign, a)
    assert onsager_magnetisation(K_C) == 0.0
    assert onsager_magnetisation(K_C + 1e-6) > 0.1  # β = 1/8: M₀ ≈ 1.2 (K − K_c)^{1/8}


def test_onsager_limits_and_arrays():
    assert onsager_energy(0.0) == 0.0
    assert onsager_energy(1e-3) == pytest.approx(-2 * math.tanh(1e-3), rel=1e-5)  # high-T series
    assert onsager_energy(-0.4) == pytest.approx(-onsager_energy(0.4), abs=1e-15)
    assert onsager_energy(50.0) == -2.0
    assert onsager_magnetisation(50.0) == 1.0
    K = np.array([0.1, 0.3, K_C, 0.5, 1.0])
    u = onsager_energy(K)
    assert u.shape == (5,) and np.all(np.diff(u) < 0)  # the energy falls as K grows
    np.testing.assert_array_equal(onsager_magnetisation(K)[:3], 0.0)
    with pytest.raises(InputError):
        onsager_energy(float("nan"))


# ------------------------------------------------------------------------------------ Kaufman
KAUFMAN_U = {  # L: (u at 0.4, u at K_c, u at 0.5, c at K_c)
    8: (-1.2223206, -1.4915891, -1.7456832, 1.1456),
    16: (-1.1313180, -1.4530649, -1.7455307, 1.4987),
    32: (-1.1072917, -1.4336585, -1.7455645, 1.8468),
    64: (-1.1060830, -1.4239384, -1.7455646, 2.1922),
}


@pytest.mark.parametrize("L", sorted(KAUFMAN_U))
def test_kaufman_reference_values(L):
    u04, uc, u05, cc = KAUFMAN_U[L]
    assert kaufman_energy(L, 0.4) == pytest.approx(u04, abs=5e-8)
    assert kaufman_energy(L, K_C) == pytest.approx(uc, abs=5e-8)
    assert kaufman_energy(L, 0.5) == pytest.approx(u05, abs=5e-8)
    assert kaufman_specific_heat(L, K_C) == pytest.approx(cc, abs=5e-5)


@pytest.mark.parametrize("L", [2, 3, 4])
@pytest.mark.parametrize("K", [0.05, 0.3, K_C, 0.6, 1.3, -0.35])
def test_kaufman_against_enumeration(L, K):
    """ln Z, u = −⟨Σ bonds⟩/N and c = Var(K Σ bonds)/N of LatticeIsing(L, K) by enumeration."""
    if K < 0 and L % 2:
        with pytest.raises(InputError, match="odd"):
            kaufman_log_z(L, K)
        return
    sol = exact_solve(LatticeIsing(L, K, 0.0))
    assert kaufman_log_z(L, K) == pytest.approx(sol.log_z, abs=1e-12)
    assert kaufman_energy(L, K) == pytest.approx(sol.lattice_energy, abs=1e-12)
    assert kaufman_specific_heat(L, K) == pytest.approx(sol.specific_heat, abs=1e-11)


@pytest.mark.parametrize("L", [5, 6, 7])
@pytest.mark.parametrize("K", [0.2, K_C, 0.7])
def test_kaufman_log_z_against_transfer_matrix(L, K):
    """Beyond enumeration: ln Z of the L×L torus from the transfer matrix (odd L included; L = 8
    is compared in tests/test_exact.py alongside the 8×8 reference values)."""
    assert kaufman_log_z(L, K) == pytest.approx(lattice_magnetisation(LatticeIsing(L, K)).log_z, abs=1e-11)


@pytest.mark.parametrize("L", [6, 64, 128])
@pytest.mark.parametrize("K", [0.2, K_C, 0.47, 0.9])
def test_kaufman_derivatives_against_finite_differences(L, K):
    """The analytic K-derivatives agree with central differences of ln Z (and of u)."""
    N = L * L
    d = 1e-4
    f = [kaufman_log_z(L, K + k * d) for k in (-2, -1, 1, 2)]
    first = (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * d)
    assert -kaufman_energy(L, K) == pytest.approx(first / N, abs=1e-7)
    u = [kaufman_energy(L, K + k * d) for k in (-2, -1, 1, 2)]
    du = (u[0] - 8 * u[1] + 8 * u[2] - u[3]) / (12 * d)
    assert kaufman_specific_heat(L, K) == pytest.approx(-K * K * du, rel=1e-7, abs=1e-9)


def test_kaufman_tends_to_onsager():
    for K in (0.3, 0.6):
        assert kaufman_energy(256, K) == pytest.approx(onsager_energy(K), abs=1e-9)
    assert kaufman_log_z(64, 0.0) == pytest.approx(64 * 64 * math.log(2))
    assert kaufman_energy(64, 0.0) == 0.0
    assert kaufman_energy(16, 40.0) == pytest.approx(-2.0, abs=1e-14)  # no overflow deep in the ordered phase
    assert kaufman_specific_heat(16, 40.0) == pytest.approx(0.0, abs=1e-14)
    assert kaufman_log_z(64, 400.0) == pytest.approx(2 * 64 * 64 * 400.0 + math.log(2), rel=1e-15)
    for K in (20.0 - 1e-9, 20.0 + 1e-9):  # the formula and the ground-state branch meet at K = 20
        assert kaufman_log_z(64, K) - 2 * 64 * 64 * K == pytest.approx(math.log(2), abs=1e-9)
    # c(K_c) ≈ a + (8/π) K_c² ln L (Ferdinand & Fisher): the increments per doubling of L decrease
    # towards (8/π) K_c² ln 2.
    c = [kaufman_specific_heat(L, K_C) for L in (8, 16, 32, 64, 128)]
    steps = np.diff(c)
    assert np.all(np.diff(steps) < 0)
    assert steps[-1] == pytest.approx(8 / math.pi * K_C**2 * math.log(2), rel=5e-3)


def test_kaufman_bad_input():
    with pytest.raises(InputError):
        kaufman_log_z(1, 0.4)
    with pytest.raises(InputError):
        kaufman_energy(8, float("inf"))
