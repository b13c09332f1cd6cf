"""Pseudo-likelihood: pairwise (vectorised L-BFGS) and lattice (Newton on J, h) estimators.

Data are exact samples (inverse_ising.exact.exact_sample) wherever the truth must be known
exactly; the sparse N = 60 model is block-diagonal (six independent 10-spin blocks) so that it
can be sampled exactly too.
"""
import time
import warnings

import numpy as np
import pytest
from scipy.optimize import minimize

import inverse_ising as ii
from inverse_ising.errors import InputError
from inverse_ising.exact import exact_mle, exact_sample
from inverse_ising.pseudolikelihood import (fit_pseudolikelihood, lattice_pseudolikelihood,
                                            pseudolikelihood_objective)


def random_pairwise(n, coupling, field, seed):
    rng = np.random.default_rng(seed)
    J = np.triu(rng.normal(0.0, coupling, (n, n)), 1)
    return ii.PairwiseIsing(rng.normal(0.0, field, n), J + J.T)


def rmse_pairs(A, B):
    iu = np.triu_indices(A.shape[0], 1)
    return float(np.sqrt(np.mean((A - B)[iu] ** 2)))


# ---------------------------------------------------------------------------------------------
# Pairwise model with exact samples
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pairwise_case():
    model = random_pairwise(12, 0.3, 0.3, seed=5)  # couplings of both signs
    X = exact_sample(model, 20_000, seed=6)
    return model, X


def test_objective_gradient_matches_finite_differences():
    model = random_pairwise(5, 0.4, 0.3, seed=1)
    X = exact_sample(model, 500, seed=2)
    rng = np.random.default_rng(3)
    h = rng.normal(size=5)
    J = rng.normal(size=(5, 5)) * 0.3  # asymmetric on purpose
    np.fill_diagonal(J, 0.0)
    _, gh, gJ = pseudolikelihood_objective(X, h, J, l2=0.01)
    eps = 1e-6
    for k in range(5):
        d = np.zeros(5)
        d[k] = eps
        num = (pseudolikelihood_objective(X, h + d, J, 0.01)[0] - pseudolikelihood_objective(X, h - d, J, 0.01)[0]) / (2 * eps)
        assert num == pytest.approx(gh[k], abs=1e-7)
    for i, j in [(0, 1), (1, 0), (3, 4), (4, 2)]:
        D = np.zeros((5, 5))
        D[i, j] = eps
        num = (pseudolikelihood_objective(X, h, J + D, 0.01)[0] - pseudolikelihood_objective(X, h, J - D, 0.01)[0]) / (2 * eps)
        assert num == pytest.approx(gJ[i, j], abs=1e-7)


def test_pairwise_close_to_truth_and_exact_mle(pairwise_case):
    model, X = pairwise_case
    h, J, info = fit_pseudolikelihood(X)
    assert info.converged and info.l2 == pytest.approx(1.0 / X.shape[0])
    np.testing.assert_array_equal(J, J.T)
    assert np.all(np.diag(J) == 0)
    mle = exact_mle(X)
    err_pl, err_mle = rmse_pairs(J, model.J), rmse_pairs(mle.J, model.J)
    # The exact MLE is the floor; PL on plentiful synthetic data is within 10 % of it ...
    assert err_pl <= 1.10 * err_mle, (err_pl, err_mle)
    # ... and much closer to the MLE than either is to the truth.
    assert rmse_pairs(J, mle.J) < 0.3 * err_mle
    assert np.max(np.abs(h - model.h)) < 0.1
    assert np.max(np.abs(h - mle.h)) < 0.03


def test_gradient_vanishes_at_solution(pairwise_case):
    _, X = pairwise_case
    h, J, info = fit_pseudolikelihood(X, tol=1e-7)
    _, gh, gJ = pseudolikelihood_objective(X, h, info.J_asymmetric, l2=info.l2)
    assert np.max(np.abs(gh)) < 1e-5 and np.max(np.abs(gJ)) < 1e-5
    # Away from the solution the gradient is not small (the check can fail).
    _, gh2, _ = pseudolikelihood_objective(X, h + 0.05, info.J_asymmetric, l2=info.l2)
    assert np.max(np.abs(gh2)) > 1e-2
    assert info.objective == pytest.approx(pseudolikelihood_objective(X, h, info.J_asymmetric, info.l2)[0], abs=1e-8)


def test_vectorised_solve_equals_per_spin_regressions():
    model = random_pairwise(5, 0.5, 0.3, seed=11)
    X = exact_sample(model, 3000, seed=12)
    S = X.astype(float)
    l2 = 1e-3
    h, J_rows, info = fit_pseudolikelihood(X, l2=l2, symmetrize=False, tol=1e-10, dtype=np.float64)
    for i in range(5):
        others = [j for j in range(5) if j != i]

        def f(theta):  # −(1/M) Σ log p(sᵢ | s₋ᵢ) + l2‖θᵢ‖² for regression i alone
            field = theta[0] + S[:, others] @ theta[1:]
            value = -np.mean(S[:, i] * field - np.logaddexp(field, -field)) + l2 * theta @ theta
            g = S[:, i] - np.tanh(field)
            grad = -np.concatenate([[g.mean()], g @ S[:, others] / len(S)]) + 2 * l2 * theta
            return value, grad

        res = minimize(f, np.zeros(5), jac=True, method="BFGS", options={"gtol": 1e-11})
        assert res.x[0] == pytest.approx(h[i], abs=1e-6)
        np.testing.assert_allclose(J_rows[i, others], res.x[1:], atol=1e-6)
    # float32 work arrays give the same answer to the statistical precision that matters.
    h32, J32, _ = fit_pseudolikelihood(X, l2=l2, symmetrize=False, dtype=np.float32)
    np.testing.assert_allclose(J32, J_rows, atol=1e-3)


def test_bad_input():
    with pytest.raises(InputError, match="only"):
        fit_pseudolikelihood(np.array([[0, 1, 2], [1, 0, 1]]))
    with pytest.raises(InputError, match="2-D"):
        fit_pseudolikelihood(np.array([1, -1, 1]))
    with pytest.raises(InputError, match="l2"):
        fit_pseudolikelihood(np.ones((4, 3)) * np.array([1, -1, 1]), l2=-1)


# ---------------------------------------------------------------------------------------------
# Sparse, low-activity N = 60
# ---------------------------------------------------------------------------------------------

def sparse_model(seed=0, n_blocks=6, size=10):
    """Retina-like model built in the 0/1 'neural' form (SPEC §8) and converted to spins.

    Mostly excitatory couplings W within blocks, biases b giving 2–10 % activity, and in each
    block one strongly inhibitory pair (W = −8) that (almost) never fires together.
    J = W/4, h = b/2 + Σⱼ Wᵢⱼ/4.
    """
    rng = np.random.default_rng(seed)
    N = n_blocks * size
    W = np.zeros((N, N))
    for k in range(n_blocks):
        sl = slice(k * size, (k + 1) * size)
        w = np.triu(rng.normal(0.4, 0.5, (size, size)), 1)
        W[sl, sl] = w + w.T
        W[k * size, k * size + 1] = W[k * size + 1, k * size] = -8.0
    b = rng.uniform(-4.0, -2.5, N)
    return ii.PairwiseIsing(b / 2 + W.sum(axis=1) / 4, W / 4), size


def sample_blocks(model, size, n, seed):
    blocks = model.n_spins // size
    out = np.empty((n, model.n_spins), dtype=np.int8)
    for k, child in enumerate(np.random.SeedSequence(seed).spawn(blocks)):
        sl = slice(k * size, (k + 1) * size)
        out[:, sl] = exact_sample(ii.PairwiseIsing(model.h[sl], model.J[sl, sl]), n, seed=child)
    return out


@pytest.fixture(scope="module")
def sparse_case():
    model, size = sparse_model()
    X = sample_blocks(model, size, 100_000, seed=1)
    return model, size, X


def never_together(X):
    x = (X > 0).astype(np.float64)
    co = x.T @ x
    mask = co == 0
    np.fill_diagonal(mask, False)
    return mask


def test_sparse_data_timing_and_accuracy(sparse_case):
    model, size, X = sparse_case
    rates = (X > 0).mean(axis=0)
    assert 0.015 < rates.min() and rates.max() < 0.10
    never = never_together(X)
    assert never.sum() >= 2  # some pairs never fire together
    t0, c0 = time.perf_counter(), time.process_time()
    h, J, info = fit_pseudolikelihood(X)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"\nPL N=60 M=100000: {wall:.2f} s wall, {cpu:.2f} s CPU, {info.iterations} iterations, "
          f"{info.n_evaluations} evaluations, {info.n_unique} distinct rows")  # reported, not asserted
    # the work: the fit runs over the distinct rows only, with few evaluations of the objective
    assert info.n_unique == len(np.unique(X, axis=0)) < len(X)
    assert info.n_evaluations < 100, f"{info.n_evaluations} evaluations for N = 60, M = 100 000"
    assert info.converged and np.all(np.isfinite(J)) and np.all(np.isfinite(h))
    # Accurate where the data identify the couplings: every pair except the inhibitory ones.
    inhibitory = model.J < -1.5
    iu = np.triu_indices(60, 1)
    ok = ~inhibitory[iu]
    err = np.sqrt(np.mean((J - model.J)[iu][ok] ** 2))
    assert err < 0.04, err
    # The field felt in the silent state, hᵢ − Σⱼ Jᵢⱼ (= bᵢ/2), is what sparse data pin down
    # (hᵢ alone trades off against Σⱼ Jᵢⱼmⱼ with mⱼ ≈ −0.9).
    plain = ~inhibitory.any(axis=1)
    silent_field = (h - J.sum(axis=1))[plain]
    assert np.max(np.abs(silent_field - (model.h - model.J.sum(axis=1))[plain])) < 0.15
    # Never-together pairs: finite, inhibitory, and at most a few co-firings predicted.
    assert np.all(J[never] < -0.3) and np.all(J[never] > -3.0)


def test_sparse_unregularised_diverges(sparse_case):
    model, size, X = sparse_case
    X = X[:20_000]
    never = never_together(X)
    assert never.any()
    results = {}
    for l2 in (None, 0.0):
        for tol in (1e-4, 1e-6):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                h, J, info = fit_pseudolikelihood(X, l2=l2, tol=tol)
            results[l2, tol] = (J[never].min(), info.converged, caught)
    # Default penalty: finite, converged, independent of the stopping tolerance.
    assert results[None, 1e-4][1] and results[None, 1e-6][1]
    assert abs(results[None, 1e-6][0] - results[None, 1e-4][0]) < 0.05
    assert results[None, 1e-6][0] > -2.0
    # l2 = 0: no finite optimum; the couplings run off as the tolerance tightens, and it says so.
    assert results[0.0, 1e-6][0] < results[0.0, 1e-4][0] - 1.0
    assert results[0.0, 1e-6][0] < results[None, 1e-6][0] - 2.0
    assert not results[0.0, 1e-6][1]
    assert any("no finite optimum" in str(w.message) for w in results[0.0, 1e-6][2])


def test_silent_neuron_is_decoupled_and_finite(sparse_case):
    _, _, X = sparse_case
    X = np.concatenate([X[:5000, :12], -np.ones((5000, 1), dtype=np.int8)], axis=1)
    with pytest.warns(RuntimeWarning, match="never fires"):
        h, J, info = fit_pseudolikelihood(X)
    assert np.isfinite(h[12]) and -8 < h[12] < -3  # ≈ −½ ln(M) scale, not −∞
    assert np.all(J[12] == 0) and np.all(J[:, 12] == 0)
    # σ − tanh h − 2 l2 h = 0 for σ = −1
    assert -1 - np.tanh(h[12]) - 2 * info.l2 * h[12] == pytest.approx(0.0, abs=1e-10)
    with pytest.raises(InputError, match="never fires"):
        fit_pseudolikelihood(X, l2=0)


# ---------------------------------------------------------------------------------------------
# Lattice
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("J,h,rule", [(0.3, 0.05, "metropolis"), (0.42, 0.02, "glauber")])
def test_lattice_recovers_parameters(J, h, rule):
    X = ii.sample(ii.LatticeIsing(16, J, h), 300, rule=rule, seed=3, burn_in=500, thin=10)
    r = lattice_pseudolikelihood(X, 16)
    assert r.converged and "configurations" in r.se_method
    assert abs(r.J - J) < 4 * r.se_J and abs(r.h - h) < 4 * r.se_h
    assert r.se_J < 0.01 and r.se_h < 0.01
    assert r.model.J == r.J and r.h_total == pytest.approx(256 * r.h)
    # The 2-parameter fit is the general pairwise objective restricted to the lattice.
    lat = ii.LatticeIsing(16, r.J, r.h).to_pairwise()
    value = pseudolikelihood_objective(X, lat.h, lat.J)[0]
    assert value / 256 == pytest.approx(r.objective, rel=1e-10)


def test_lattice_single_configuration_and_degenerate():
    X = ii.sample(ii.LatticeIsing(32, 0.3, 0.0), 1, seed=4, burn_in=500)
    r = lattice_pseudolikelihood(X.reshape(32, 32))
    assert "tiles" in r.se_method and r.n_units >= 20
    assert abs(r.J - 0.3) < 4 * r.se_J and np.isfinite(r.se_h)
    with pytest.raises(InputError, match="degenerate"):
        lattice_pseudolikelihood(np.ones((8, 8)), 8)
    r = lattice_pseudolikelihood(np.ones((8, 8)), 8, l2=0.01)
    assert np.isfinite(r.h) and r.h > 0
    with pytest.raises(InputError):
        lattice_pseudolikelihood(np.ones((5, 7)))
