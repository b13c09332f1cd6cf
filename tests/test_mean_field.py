"""Mean field: the Gibbs–Bogoliubov–Feynman bound and its fixed point, the mean-field critical
coupling against Onsager, and the naive mean-field / TAP inverse estimates."""

import warnings

import numpy as np
import pytest

import inverse_ising as ii
from inverse_ising.boltzmann import _penalised_constant_field
from inverse_ising.errors import InputError
from inverse_ising.exact import exact_log_z, exact_sample, exact_solve
from inverse_ising.mean_field import (binary_entropy, fit_mean_field, fit_tap, gibbs_bogoliubov_bound,
                                      mean_field_critical_coupling, mean_field_magnetisation, tap_couplings)
from inverse_ising.onsager import K_C, onsager_magnetisation


def random_pairwise(n, beta, field, seed):
    """SK-like couplings of both signs, Jᵢⱼ ~ N(0, β²/N), and fields ~ N(0, field²)."""
    rng = np.random.default_rng(seed)
    J = np.triu(rng.normal(0.0, beta / np.sqrt(n), (n, n)), 1)
    return ii.PairwiseIsing(rng.normal(0.0, field, n), J + J.T)


def rmse_pairs(A, B):
    iu = np.triu_indices(A.shape[0], 1)
    return float(np.sqrt(np.mean((A - B)[iu] ** 2)))


# ---------------------------------------------------------------------------------------------
# Forward: the variational bound
# ---------------------------------------------------------------------------------------------

def test_entropy_and_bound_at_independent_spins():
    assert binary_entropy(0.0) == pytest.approx(np.log(2))
    assert binary_entropy(1.0) == 0.0 and binary_entropy(-1.0) == 0.0
    # J = 0: the product distribution is exact, so the bound is tight at m = tanh(h).
    h = np.array([0.3, -1.2, 0.0, 2.0])
    model = ii.PairwiseIsing(h, np.zeros((4, 4)))
    m = mean_field_magnetisation(model)
    np.testing.assert_allclose(m, np.tanh(h), atol=1e-9)
    assert gibbs_bogoliubov_bound(model, m) == pytest.approx(np.sum(np.log(2 * np.cosh(h))), abs=1e-12)


@pytest.mark.parametrize("beta,seed", [(0.5, 1), (1.0, 2), (2.0, 3)])
def test_bound_holds_for_random_pairwise_models(beta, seed):
    model = random_pairwise(10, beta, 0.4, seed)
    log_z = exact_log_z(model)
    m = mean_field_magnetisation(model)
    best = gibbs_bogoliubov_bound(model, m)
    assert best <= log_z + 1e-12
    rng = np.random.default_rng(seed)
    for _ in range(50):  # any product distribution, not just the optimum
        assert gibbs_bogoliubov_bound(model, rng.uniform(-1, 1, 10)) <= best + 1e-12
    # The bound is not vacuous: within 15 % of ln Z.
    assert best > 0.85 * log_z


@pytest.mark.parametrize("K,h", [(0.1, 0.0), (0.3, 0.0), (0.44, 0.0), (0.6, 0.0), (0.3, 0.1)])
def test_bound_holds_on_4x4_lattice(K, h):
    model = ii.LatticeIsing(4, K, h)
    m = mean_field_magnetisation(model)
    assert isinstance(m, float)
    bound = gibbs_bogoliubov_bound(model, m)
    assert bound <= exact_log_z(model) + 1e-12
    # Lattice form and pairwise form of the same model give the same bound.
    assert bound == pytest.approx(gibbs_bogoliubov_bound(model.to_pairwise(), np.full(16, m)), abs=1e-12)
    # The uniform scalar equation m = tanh(h + 4Km).
    assert m == pytest.approx(np.tanh(h + 4 * K * m), abs=1e-9)


@pytest.mark.parametrize("model", [
    random_pairwise(10, 1.0, 0.3, 4),
    ii.LatticeIsing(4, 0.35, 0.05, boundary="open"),
    ii.LatticeIsing(5, 0.3, 0.0),
])
def test_bound_is_stationary_and_maximal_at_fixed_point(model):
    m = mean_field_magnetisation(model)
    mv = np.full(model.n_spins, m) if np.ndim(m) == 0 else m
    pw = model.to_pairwise()
    np.testing.assert_allclose(mv, np.tanh(pw.h + pw.J @ mv), atol=1e-9)  # m = tanh(h + Jm)
    best = gibbs_bogoliubov_bound(model, mv)
    eps = 1e-6
    for i in range(0, model.n_spins, 3):  # ∂Φ/∂mᵢ ≈ 0
        d = np.zeros(model.n_spins)
        d[i] = eps
        grad = (gibbs_bogoliubov_bound(model, mv + d) - gibbs_bogoliubov_bound(model, mv - d)) / (2 * eps)
        assert abs(grad) < 1e-6
    rng = np.random.default_rng(0)
    for _ in range(20):  # a local maximum
        trial = np.clip(mv + rng.normal(0, 0.02, model.n_spins), -1, 1)
        assert gibbs_bogoliubov_bound(model, trial) < best


def test_ordered_branch_has_the_larger_bound():
    model = ii.LatticeIsing(6, 0.4, 0.0)
    m, info = mean_field_magnetisation(model, return_info=True)
    assert m > 0.8 and info["converged"]
    assert gibbs_bogoliubov_bound(model, m) > gibbs_bogoliubov_bound(model, 0.0)
    # With a field the aligned branch wins over the metastable one.
    down = mean_field_magnetisation(ii.LatticeIsing(6, 0.4, -0.05))
    assert down < -0.8


def test_mean_field_critical_coupling_versus_onsager():
    kc_mf = mean_field_critical_coupling()
    assert kc_mf == 0.25 and mean_field_critical_coupling(z=6) == pytest.approx(1 / 6)
    assert K_C == pytest.approx(0.4407, abs=1e-4) and kc_mf < K_C
    below = mean_field_magnetisation(ii.LatticeIsing(8, 0.2, 0.0))
    assert abs(below) < 1e-6
    # Between the two critical couplings mean field predicts order that does not exist.
    for K in (0.27, 0.3, 0.4):
        m_mf = mean_field_magnetisation(ii.LatticeIsing(8, K, 0.0))
        assert m_mf > 0.2 and onsager_magnetisation(K) == 0.0
    # Above K_c both order, mean field more strongly.
    assert mean_field_magnetisation(ii.LatticeIsing(8, 0.5, 0.0)) > onsager_magnetisation(0.5) > 0


def test_forward_bad_input():
    with pytest.raises(InputError):
        mean_field_magnetisation(ii.LatticeIsing(4, 0.3), damping=1.0)
    with pytest.raises(InputError):
        gibbs_bogoliubov_bound(ii.LatticeIsing(4, 0.3), 1.5)
    with pytest.raises(InputError):
        gibbs_bogoliubov_bound(ii.KineticIsing(np.zeros(3), np.zeros((3, 3))), 0.0)


# ---------------------------------------------------------------------------------------------
# Inverse: naive mean field and TAP
# ---------------------------------------------------------------------------------------------

def exact_moments(model):
    sol = exact_solve(model)
    return sol.mean, sol.second_moment, None


def test_weak_couplings_recovered_from_exact_moments():
    model = random_pairwise(12, 0.2, 0.3, seed=5)
    scale = np.sqrt(np.mean(model.J[np.triu_indices(12, 1)] ** 2))
    for fit in (fit_mean_field, fit_tap):
        h, J = fit(moments=exact_moments(model))
        assert rmse_pairs(J, model.J) < 0.05 * scale
        assert np.max(np.abs(h - model.h)) < 0.02
        np.testing.assert_array_equal(J, J.T)


@pytest.mark.parametrize("beta,seed", [(0.6, 6), (0.8, 7)])
def test_tap_beats_naive_mean_field_at_moderate_coupling(beta, seed):
    model = random_pairwise(12, beta, 0.5, seed)  # fields give m ≠ 0, where TAP's term matters
    moments = exact_moments(model)
    h_n, J_n = fit_mean_field(moments=moments)
    h_t, J_t = fit_tap(moments=moments)
    assert rmse_pairs(J_t, model.J) < 0.8 * rmse_pairs(J_n, model.J)
    assert np.sqrt(np.mean((h_t - model.h) ** 2)) < 0.5 * np.sqrt(np.mean((h_n - model.h) ** 2))


def test_tap_root_connects_to_naive_mean_field():
    A = np.array([[0.0, -0.3], [-0.3, 0.0]])
    J0, bad = tap_couplings(A, np.zeros(2))
    assert J0[0, 1] == pytest.approx(0.3) and bad == 0
    m = np.array([0.5, 0.6])
    J, _ = tap_couplings(A, m)
    assert A[0, 1] == pytest.approx(-J[0, 1] - 2 * J[0, 1] ** 2 * m[0] * m[1], abs=1e-14)
    _, bad = tap_couplings(np.array([[0.0, 5.0], [5.0, 0.0]]), np.array([0.9, 0.9]))
    assert bad == 1


def test_samples_give_consistent_estimates():
    model = random_pairwise(10, 0.4, 0.3, seed=8)
    X = exact_sample(model, 50_000, seed=9)
    h, J = fit_mean_field(X)
    h_t, J_t = fit_tap(X)
    assert rmse_pairs(J, model.J) < 0.03 and rmse_pairs(J_t, model.J) < 0.03
    # Automatic shrinkage is tiny for plentiful data: nearly the unregularised answer.
    h0, J0 = fit_mean_field(X, shrinkage=0.0)
    assert np.max(np.abs(J - J0)) < 1e-2


def test_singular_data_give_finite_answers_with_a_warning():
    model = random_pairwise(8, 0.4, 0.3, seed=10)
    X = exact_sample(model, 2000, seed=11)
    X[:, 3] = -1  # a neuron that never fires
    rest = np.delete(np.arange(8), 3)
    for fit in (fit_mean_field, fit_tap):
        with pytest.warns(RuntimeWarning, match=r"unit \[3\] never fires"):
            h, J = fit(X)
        assert np.all(np.isfinite(h)) and np.all(np.isfinite(J))
        # decoupled, with the field of the penalised one-spin problem −1 − tanh h − 2h/M = 0
        assert np.all(J[3] == 0) and np.all(J[:, 3] == 0)
        assert h[3] == pytest.approx(_penalised_constant_field(-1.0, 1.0 / X.shape[0]), abs=1e-12)
        # the other spins are fitted as if the silent one were not there
        h_rest, J_rest = fit(X[:, rest])
        np.testing.assert_allclose(h[rest], h_rest, atol=1e-12)
        np.testing.assert_allclose(J[np.ix_(rest, rest)], J_rest, atol=1e-12)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            assert np.all(np.isfinite(fit(X, shrinkage=0.0)[1]))
        with pytest.raises(InputError, match="exact moments"):
            fit(moments=(X.mean(axis=0), X.T @ X / X.shape[0], None))
    # N > M: C has rank < N.
    Y = exact_sample(random_pairwise(12, 0.4, 0.3, seed=12), 8, seed=13)
    Y[:, :2] = np.array([[1, -1]] * 4 + [[-1, 1]] * 4)  # every spin flips at least once
    with pytest.warns(RuntimeWarning, match="singular"):
        h, J = fit_tap(Y)
    assert np.all(np.isfinite(h)) and np.all(np.isfinite(J))


def test_inverse_bad_input():
    with pytest.raises(InputError):
        fit_mean_field(np.array([[0, 1, 2], [1, 0, 1]]))
    with pytest.raises(InputError):
        fit_mean_field()
    with pytest.raises(InputError):
        fit_tap(moments=(np.zeros(3), np.eye(2), None))
    with pytest.raises(InputError):
        fit_mean_field(np.ones((5, 3)), shrinkage=2.0)
