"""Interaction screening (RISE, logRISE): objective, solver, accuracy, degenerate data, structure.

Accuracy is judged against the truth of models sampled exactly (``exact_sample``) or by Markov
chains (the sparse N = 60 retina-like set), with the exact MLE and pseudo-likelihood as the
references.
"""
import warnings

import numpy as np
import pytest

import inverse_ising as ii
from inverse_ising import synthetic
from inverse_ising.errors import InputError
from inverse_ising.exact import exact_mle, exact_sample
from inverse_ising.interaction_screening import (default_l1, fit_interaction_screening,
                                                 interaction_screening_objective, random_regular_graph,
                                                 recovered_graph)
from inverse_ising.pseudolikelihood import fit_pseudolikelihood


def rmse_pairs(A, B):
    iu = np.triu_indices(A.shape[0], 1)
    return float(np.sqrt(np.mean((A - B)[iu] ** 2)))


def sk_model(n, beta, seed):
    """Sherrington–Kirkpatrick couplings Jᵢⱼ ~ N(0, β²/N) and fields hᵢ ~ N(0, 0.3²)."""
    rng = np.random.default_rng(seed)
    J = np.triu(rng.normal(0.0, beta / np.sqrt(n), (n, n)), 1)
    return ii.PairwiseIsing(rng.normal(0.0, 0.3, n), J + J.T)


def planted_rrg(n, beta, seed):
    """Random 3-regular graph with couplings ±β of random signs, no fields."""
    rng = np.random.default_rng(seed)
    adj = random_regular_graph(n, 3, seed=rng)
    signs = np.triu(rng.choice([-1.0, 1.0], size=(n, n)), 1)
    return ii.PairwiseIsing(np.zeros(n), beta * adj * (signs + signs.T)), adj


# ---------------------------------------------------------------------------------------------
# Objective and solver
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("log", [True, False])
def test_objective_gradient_matches_finite_differences(log):
    model = sk_model(5, 0.8, seed=1)
    X = exact_sample(model, 500, seed=2)
    rng = np.random.default_rng(3)
    h = rng.normal(size=5) * 0.3
    J = rng.normal(size=(5, 5)) * 0.3  # asymmetric on purpose, no zero entries off the diagonal
    np.fill_diagonal(J, 0.0)
    _, gh, gJ = interaction_screening_objective(X, h, J, log=log, l1=0.05)
    eps = 1e-6

    def f(h, J):
        return interaction_screening_objective(X, h, J, log=log, l1=0.05)[0]

    for k in range(5):
        d = np.zeros(5)
        d[k] = eps
        assert (f(h + d, J) - f(h - d, J)) / (2 * eps) == pytest.approx(gh[k], abs=1e-7)
    for i, j in [(0, 1), (1, 0), (3, 4), (4, 2)]:
        D = np.zeros((5, 5))
        D[i, j] = eps
        assert (f(h, J + D) - f(h, J - D)) / (2 * eps) == pytest.approx(gJ[i, j], abs=1e-7)


@pytest.mark.parametrize("log", [True, False])
def test_solution_satisfies_optimality_conditions(log):
    """The vectorised, scaled, split solve is the minimum of the plain per-spin objective."""
    model = sk_model(6, 0.8, seed=11)
    X = exact_sample(model, 3000, seed=12)
    l1 = 0.02
    h, J, info = fit_interaction_screening(X, log=log, l1=l1, tol=1e-10)
    Jr = info.J_asymmetric
    value, gh, gJ = interaction_screening_objective(X, h, Jr, log=log, l1=0.0)
    assert info.converged and info.method == ("logrise" if log else "rise") and info.l1 == l1
    assert info.objective == pytest.approx(value + l1 * np.abs(Jr).sum(), abs=1e-10)
    assert info.screening == pytest.approx(value, abs=1e-10)
    off = ~np.eye(6, dtype=bool)
    nonzero = off & (Jr != 0)
    assert np.max(np.abs(gh)) < 1e-7
    np.testing.assert_allclose(gJ[nonzero], -l1 * np.sign(Jr[nonzero]), atol=1e-7)
    assert np.all(np.abs(gJ[off & (Jr == 0)]) <= l1 + 1e-7)
    assert (off & (Jr == 0)).any()  # the penalty did zero some couplings: the last check is not vacuous
    assert info.grad_max < 1e-7
    np.testing.assert_array_equal(J, 0.5 * (Jr + Jr.T))
    assert np.all(np.diag(J) == 0)
    # Away from the solution the conditions fail (the checks can fail).
    _, gh2, _ = interaction_screening_objective(X, h + 0.05, Jr, log=log)
    assert np.max(np.abs(gh2)) > 1e-3


def test_init_and_support():
    model = sk_model(6, 0.8, seed=21)
    X = exact_sample(model, 3000, seed=22)
    h, J, info = fit_interaction_screening(X)
    # Started at its own solution, the solver stops at once, at the same point.
    h2, J2, info2 = fit_interaction_screening(X, init=(h, info.J_asymmetric))
    assert info2.iterations <= 2
    np.testing.assert_allclose(J2, J, atol=1e-4)
    # Couplings outside the support stay exactly zero; the rest are fitted.
    support = np.zeros((6, 6), dtype=bool)
    support[0, 1:] = support[1:, 0] = True
    _, J3, info3 = fit_interaction_screening(X, l1=0.0, support=support)
    assert info3.converged
    assert np.all(J3[~support] == 0) and np.all(J3[0, 1:] != 0)
    with pytest.raises(InputError, match="support"):
        fit_interaction_screening(X, support=np.ones((5, 5), dtype=bool))
    with pytest.raises(InputError, match="init"):
        fit_interaction_screening(X, init=(h[:5], J))


def test_default_penalty():
    assert default_l1(20, 50_000, log=True) == pytest.approx(0.8 * np.sqrt(np.log(400 / 0.05) / 50_000))
    assert default_l1(20, 50_000, log=False) == pytest.approx(0.5 * default_l1(20, 50_000, log=True))


# ---------------------------------------------------------------------------------------------
# Accuracy
# ---------------------------------------------------------------------------------------------

def test_dense_sk_model_against_exact_mle():
    """SK couplings (every pair coupled): without the penalty, logRISE and RISE are near the MLE floor.

    The papers' penalty λ ∝ √(ln(N²/δ)/M) shrinks every coupling by about λ/curvature, which on
    a dense model is a bias larger than the statistical error at any M (both scale as 1/√M).
    """
    model = sk_model(14, 0.7, seed=1)
    X = exact_sample(model, 50_000, seed=101)
    err_mle = rmse_pairs(exact_mle(X).J, model.J)
    _, J_log, info_log = fit_interaction_screening(X, log=True, l1=0.0)
    _, J_rise, info_rise = fit_interaction_screening(X, log=False, l1=0.0)
    assert info_log.converged and info_rise.converged
    err_log, err_rise = rmse_pairs(J_log, model.J), rmse_pairs(J_rise, model.J)
    assert err_log <= 1.15 * err_mle, (err_log, err_mle)
    assert err_rise <= 1.5 * err_mle, (err_rise, err_mle)
    # At λ = 0 both minimise the same function (ln is increasing).
    np.testing.assert_allclose(J_log, J_rise, atol=1e-3)
    # The default penalty shrinks the couplings.
    _, J_auto, _ = fit_interaction_screening(X)
    iu = np.triu_indices(14, 1)
    assert np.mean(np.abs(J_auto[iu]) < np.abs(J_log[iu])) > 0.9
    assert rmse_pairs(J_auto, model.J) > 1.5 * err_mle


def test_sparse_retina_like_model_against_pseudolikelihood():
    synth = synthetic.retina_pairwise_model(60, seed=0)
    X = synthetic.retina_pairwise_data(50_000, synth, seed=10).spins
    truth = synth.model.J
    _, J_pl, _ = fit_pseudolikelihood(X, warn=False)
    err_pl = rmse_pairs(J_pl, truth)
    _, J_log, info = fit_interaction_screening(X, warn=False)
    assert info.converged and info.n_unique < X.shape[0]
    err_log = rmse_pairs(J_log, truth)
    assert err_log <= 1.15 * err_pl, (err_log, err_pl)
    # The two steps of Lokhov et al.: the unpenalised fit on the penalised fit's graph
    # removes the shrinkage of the kept couplings.
    _, J_two, _ = fit_interaction_screening(X, l1=0.0, support=info.J_asymmetric != 0, warn=False)
    assert rmse_pairs(J_two, truth) < err_log


# ---------------------------------------------------------------------------------------------
# Bad and degenerate input
# ---------------------------------------------------------------------------------------------

def input_error(f, X):
    with pytest.raises(InputError) as exc, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f(X)
    return str(exc.value)


@pytest.mark.parametrize("X", [
    np.array([[0, 1, 2], [1, 0, 1]]),            # not binary
    np.array([[0.5, 1.0], [1.0, 0.0]]),          # not binary
    np.array([[1.0, np.nan], [1.0, -1.0]]),      # not finite
    np.array([1, -1, 1]),                        # 1-D
    np.ones((3, 1)),                             # one spin
    np.zeros((0, 4)),                            # no samples
], ids=["two", "half", "nan", "1d", "one-spin", "empty"])
def test_bad_input_same_errors_as_pseudolikelihood(X):
    assert input_error(fit_interaction_screening, X) == input_error(fit_pseudolikelihood, X)


def test_bad_arguments():
    X = np.array([[1, -1, 1], [-1, 1, 1], [1, 1, -1]])
    for kwargs, match in [({"l1": -1}, "l1"), ({"l1": "big"}, "l1"), ({"log": "yes"}, "log"),
                          ({"tol": 0}, "tol"), ({"max_iter": 0}, "max_iter")]:
        with pytest.raises(InputError, match=match):
            fit_interaction_screening(X, **kwargs)


def test_constant_spins_are_decoupled_like_pseudolikelihood():
    model = sk_model(5, 0.8, seed=31)
    X = exact_sample(model, 4000, seed=32)
    X = np.concatenate([X, -np.ones((4000, 1), dtype=np.int8), np.ones((4000, 1), dtype=np.int8)], axis=1)
    with pytest.warns(RuntimeWarning, match=r"never \+1 \(never fires\): \[5\]; always \+1: \[6\]"):
        h, J, info = fit_interaction_screening(X)
    with pytest.warns(RuntimeWarning, match=r"never \+1 \(never fires\): \[5\]; always \+1: \[6\]"):
        _, J_pl, _ = fit_pseudolikelihood(X)
    assert np.all(J[5:] == 0) and np.all(J[:, 5:] == 0) and np.all(J_pl[5:] == 0)
    assert h[5] == pytest.approx(-0.5 * np.log(4 * 4000 - 1)) and h[6] == -h[5]
    assert info.converged and np.all(J[:5, :5][~np.eye(5, dtype=bool)] != 0)
    # One sample: every spin is constant, as for pseudo-likelihood.
    with pytest.warns(RuntimeWarning, match="never fires"):
        h1, J1, info1 = fit_interaction_screening(X[:1])
    assert np.all(J1 == 0) and np.all(np.abs(h1) == pytest.approx(0.5 * np.log(3))) and info1.converged


def test_unseen_joint_state_diverges_only_without_penalty():
    rng = np.random.default_rng(41)
    X = np.where(rng.random((3000, 4)) < 0.3, 1, -1).astype(np.int8)
    X[X[:, 0] > 0, 1] = -1                       # spins 0 and 1 never fire together
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, J, info = fit_interaction_screening(X)
    assert info.converged and -3 < J[0, 1] < 0
    with pytest.warns(RuntimeWarning, match="no finite optimum.*spins 0 and 1"):
        _, J0, info0 = fit_interaction_screening(X, l1=0.0)
    assert not info0.converged and J0[0, 1] < J[0, 1] - 1


# ---------------------------------------------------------------------------------------------
# Structure recovery
# ---------------------------------------------------------------------------------------------

def test_random_regular_graph():
    A = random_regular_graph(16, 3, seed=1)
    assert A.dtype == bool and np.array_equal(A, A.T) and not np.diag(A).any()
    assert np.all(A.sum(axis=0) == 3)
    assert not np.array_equal(A, random_regular_graph(16, 3, seed=2))
    with pytest.raises(InputError, match="regular"):
        random_regular_graph(5, 3)


def test_recovered_graph_rules():
    J = np.zeros((4, 4))
    J[0, 1] = J[1, 0] = 0.6
    J[2, 3] = J[3, 2] = -0.5
    J[0, 2] = J[2, 0] = 0.05
    expected = (np.abs(J) > 0.3)
    np.testing.assert_array_equal(recovered_graph(J), expected)            # gap between 0.05 and 0.5
    np.testing.assert_array_equal(recovered_graph(J, threshold=0.01), np.abs(J) > 0.01)
    assert not recovered_graph(np.zeros((3, 3))).any()
    with pytest.raises(InputError, match="symmetric"):
        recovered_graph(np.triu(J))
    with pytest.raises(InputError, match="threshold"):
        recovered_graph(J, threshold=-1)


def test_planted_regular_graph_recovered_at_large_m():
    beta = 0.7
    model, adj = planted_rrg(16, beta, seed=5)
    X = exact_sample(model, 16_384, seed=6)
    for log in (True, False):
        _, J, _ = fit_interaction_screening(X, log=log)
        A = recovered_graph(J)
        assert np.array_equal(A, A.T) and not np.diag(A).any()
        np.testing.assert_array_equal(A, adj)
        np.testing.assert_array_equal(recovered_graph(J, beta / 2), adj)   # the papers' κ/2 rule
    # With few samples the same check fails: it can tell.
    _, J_few, _ = fit_interaction_screening(exact_sample(model, 256, seed=7))
    assert not np.array_equal(recovered_graph(J_few, beta / 2), adj)
