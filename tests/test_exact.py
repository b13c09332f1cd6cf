"""The exact oracle (inverse_ising.exact) against a plain brute-force sum, and its own consistency.

Every sampler and learner is tested against exact_solve, so exact_solve itself is tested here
against the most naive computation possible: a Python ``itertools.product`` over all 2^N states.
"""
import itertools
import math
import tracemalloc

import numpy as np
import pytest
from scipy import stats as sps

from inverse_ising.errors import InputError
from inverse_ising.exact import (
    MAX_SPINS,
    _hessp,
    exact_log_z,
    exact_mle,
    exact_sample,
    exact_solve,
    lattice_magnetisation,
    log_likelihood,
)
from inverse_ising.models import KineticIsing, LatticeIsing, PairwiseIsing
from inverse_ising.onsager import K_C, kaufman_log_z


def random_model(n, scale_h=1.0, scale_j=1.0, seed=0):
    """h and symmetric J of both signs (zero diagonal)."""
    rng = np.random.default_rng(seed)
    h = rng.normal(0.0, scale_h, n)
    J = np.triu(rng.normal(0.0, scale_j, (n, n)), 1)
    return PairwiseIsing(h, J + J.T)


def brute_force(log_weight, n):
    """Everything by a plain sum over itertools.product: the slowest, most obvious computation."""
    states = np.array(list(itertools.product((-1, 1), repeat=n)), dtype=np.int8)
    lw = np.array([log_weight(s) for s in states.astype(float)])
    z = sum(math.exp(v) for v in lw)
    p = np.exp(lw) / z
    S = states.astype(float)
    E = -lw
    m = S.sum(axis=1) / n
    mean = p @ S
    second = (S.T * p) @ S
    return dict(
        states=states, p=p, log_z=math.log(z), mean=mean, second=second,
        energy=p @ E / n, specific_heat=(p @ E**2 - (p @ E) ** 2) / n,
        abs_m=p @ np.abs(m), m2=p @ m**2, m4=p @ m**4,
        susceptibility=n * (p @ m**2 - (p @ m) ** 2), binder=1 - (p @ m**4) / (3 * (p @ m**2) ** 2),
        connected=second - np.outer(mean, mean),
    )


def pairwise_log_weight(model):
    h, J, n = model.h, model.J, model.n_spins
    return lambda s: sum(h[i] * s[i] for i in range(n)) + sum(J[i, j] * s[i] * s[j] for i in range(n) for j in range(i + 1, n))


def assert_solution_matches(sol, ref, tol=1e-12):
    assert sol.log_z == pytest.approx(ref["log_z"], abs=tol * max(1, abs(ref["log_z"])))
    np.testing.assert_allclose(sol.mean, ref["mean"], atol=tol)
    np.testing.assert_allclose(sol.second_moment, ref["second"], atol=tol)
    np.testing.assert_allclose(sol.connected, ref["connected"], atol=tol)
    for key in ("energy", "specific_heat", "abs_m", "m2", "m4", "susceptibility", "binder"):
        assert getattr(sol, key) == pytest.approx(ref[key], abs=10 * tol), key


# ------------------------------------------------------------------------------ exact_solve
@pytest.mark.parametrize("n,scale,seed", [(1, 1.0, 1), (2, 1.5, 2), (3, 1.0, 3), (6, 0.7, 4), (9, 0.5, 5), (10, 2.0, 6)])
def test_solve_matches_brute_force(n, scale, seed):
    model = random_model(n, scale, scale, seed)
    ref = brute_force(pairwise_log_weight(model), n)
    sol = exact_solve(model)
    assert_solution_matches(sol, ref)
    assert np.all(np.diag(sol.second_moment) == 1.0)
    assert sol.n_spins == n and sol.lattice_energy is None
    # The magnetisation distribution: P(k up spins).
    k_up = (ref["states"] == 1).sum(axis=1)
    np.testing.assert_allclose(sol.magnetisation_pmf, np.bincount(k_up, weights=ref["p"], minlength=n + 1), atol=1e-13)
    assert exact_log_z(model) == pytest.approx(ref["log_z"], abs=1e-12)


def test_solve_large_parameters_no_overflow():
    """Log weights of several hundred: the running log-sum-exp must not overflow."""
    model = random_model(8, 40.0, 40.0, seed=7)
    ref_lw = pairwise_log_weight(model)
    states = np.array(list(itertools.product((-1, 1), repeat=8)), dtype=float)
    lw = np.array([ref_lw(s) for s in states])
    assert lw.max() > 300
    sol = exact_solve(model, chunk_size=16)
    top = lw.max()
    assert sol.log_z == pytest.approx(top + math.log(np.exp(lw - top).sum()), rel=1e-14)
    assert np.all(np.isfinite(sol.second_moment)) and np.isfinite(sol.specific_heat)


@pytest.mark.parametrize("chunk_size", [1, 2, 8, 100, 1 << 9])
def test_chunked_equals_unchunked(chunk_size):
    model = random_model(10, 0.5, 0.4, seed=8)
    whole = exact_solve(model, chunk_size=1 << 10)
    part = exact_solve(model, chunk_size=chunk_size)
    assert part.log_z == pytest.approx(whole.log_z, abs=1e-12)
    for key in ("mean", "second_moment", "magnetisation_pmf"):
        np.testing.assert_allclose(getattr(part, key), getattr(whole, key), atol=1e-13)
    for key in ("energy", "specific_heat", "abs_m", "m2", "m4", "susceptibility", "binder"):
        assert getattr(part, key) == pytest.approx(getattr(whole, key), abs=1e-12), key


@pytest.mark.parametrize("L,J,h,boundary", [(2, 0.7, 0.0, "periodic"), (3, -0.4, 0.3, "periodic"), (3, 0.5, -0.2, "open")])
def test_lattice_model_matches_brute_force(L, J, h, boundary):
    """A LatticeIsing is enumerated through to_pairwise; the reference uses the lattice's own log weight."""
    model = LatticeIsing(L, J, h, boundary)
    ref = brute_force(lambda s: float(model.log_weight(s.astype(np.int8))[0]), model.n_spins)
    sol = exact_solve(model)
    assert_solution_matches(sol, ref)
    bonds = model.bond_sum(ref["states"])
    assert sol.lattice_energy == pytest.approx(-(ref["p"] @ bonds) / model.n_spins, abs=1e-12)


def test_lattice_4x4_is_enumerated_and_symmetric():
    sol = exact_solve(LatticeIsing(4, K_C, 0.0))
    np.testing.assert_allclose(sol.mean, 0.0, atol=1e-12)
    # Translation invariance: every spin has the same four nearest-neighbour correlations.
    C = sol.second_moment
    nn = [C[k, (k // 4) * 4 + (k % 4 + 1) % 4] for k in range(16)] + [C[k, (k + 4) % 16] for k in range(16)]
    np.testing.assert_allclose(nn, nn[0], atol=1e-12)
    assert sol.lattice_energy == pytest.approx(-2 * nn[0], abs=1e-12)
    assert sol.energy == pytest.approx(K_C * sol.lattice_energy, abs=1e-12)


def test_n20_two_independent_blocks():
    """N = 20 built from two independent 10-spin blocks: ln Z adds and moments factorise."""
    a, b = random_model(10, 0.4, 0.3, seed=9), random_model(10, 0.3, 0.4, seed=10)
    h = np.concatenate([a.h, b.h])
    J = np.zeros((20, 20))
    J[:10, :10], J[10:, 10:] = a.J, b.J
    ra, rb = brute_force(pairwise_log_weight(a), 10), brute_force(pairwise_log_weight(b), 10)
    tracemalloc.start()
    sol = exact_solve(PairwiseIsing(h, J))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 200 * 2**20  # a few chunk-sized arrays, never 2^20 × N
    assert sol.log_z == pytest.approx(ra["log_z"] + rb["log_z"], abs=1e-11)
    mean = np.concatenate([ra["mean"], rb["mean"]])
    np.testing.assert_allclose(sol.mean, mean, atol=1e-12)
    np.testing.assert_allclose(sol.second_moment[:10, :10], ra["second"], atol=1e-12)
    np.testing.assert_allclose(sol.second_moment[10:, 10:], rb["second"], atol=1e-12)
    np.testing.assert_allclose(sol.second_moment[:10, 10:], np.outer(ra["mean"], rb["mean"]), atol=1e-12)
    # Energy variance adds for independent blocks; per spin: (Var_a + Var_b)/20.
    assert sol.specific_heat == pytest.approx((ra["specific_heat"] + rb["specific_heat"]) * 10 / 20, abs=1e-11)


def test_n20_independent_spins_closed_form():
    h = np.linspace(-1.5, 2.0, 20)
    sol = exact_solve(PairwiseIsing(h, np.zeros((20, 20))))
    assert sol.log_z == pytest.approx(np.sum(np.log(2 * np.cosh(h))), abs=1e-12)
    np.testing.assert_allclose(sol.mean, np.tanh(h), atol=1e-13)
    np.testing.assert_allclose(sol.connected - np.diag(np.diag(sol.connected)), 0.0, atol=1e-13)
    assert sol.specific_heat == pytest.approx(np.sum(h**2 / np.cosh(h) ** 2) / 20, abs=1e-13)


def test_bad_models_rejected():
    with pytest.raises(InputError, match=r"N <= 20.*N = 21"):
        exact_solve(random_model(MAX_SPINS + 1))
    with pytest.raises(InputError, match="kaufman"):
        exact_solve(LatticeIsing(5, 0.4))
    with pytest.raises(InputError, match="equilibrium"):
        exact_solve(KineticIsing(np.zeros(3), np.zeros((3, 3))))
    with pytest.raises(InputError, match="N <= 20"):
        exact_sample(random_model(21), 5)


# --------------------------------------------------------------------------- log_likelihood
def test_log_likelihood_matches_brute_force_and_accepts_binary():
    model = random_model(7, 0.8, 0.6, seed=11)
    ref = brute_force(pairwise_log_weight(model), 7)
    rng = np.random.default_rng(12)
    rows = rng.integers(0, 2**7, 50)
    X = ref["states"][rows]
    expected = np.mean(np.log(ref["p"][rows]))
    assert log_likelihood(model, X) == pytest.approx(expected, abs=1e-12)
    assert log_likelihood(model, (X + 1) // 2) == pytest.approx(expected, abs=1e-12)
    assert log_likelihood(model, X, log_z=ref["log_z"]) == pytest.approx(expected, abs=1e-12)
    lattice = LatticeIsing(3, 0.3, 0.1)
    Y = exact_sample(lattice, 20, seed=1)
    p = exact_solve(lattice)
    assert log_likelihood(lattice, Y) == pytest.approx(np.mean(lattice.log_weight(Y)) - p.log_z, abs=1e-12)
    with pytest.raises(InputError, match="columns"):
        log_likelihood(model, X[:, :5])
    with pytest.raises(InputError):
        log_likelihood(model, np.full((3, 7), 2))


# ----------------------------------------------------------------------------- exact_sample
def test_sample_frequencies_chi_square():
    model = random_model(4, 0.6, 0.5, seed=13)
    ref = brute_force(pairwise_log_weight(model), 4)
    n = 40000
    X = exact_sample(model, n, seed=np.random.SeedSequence(14))
    assert X.shape == (n, 4) and X.dtype == np.int8 and set(np.unique(X)) == {-1, 1}
    index = {tuple(s): k for k, s in enumerate(ref["states"].tolist())}
    counts = np.bincount([index[tuple(r)] for r in X.tolist()], minlength=16)
    chi2 = np.sum((counts - n * ref["p"]) ** 2 / (n * ref["p"]))
    assert sps.chi2.sf(chi2, 15) > 1e-3, chi2
    # The same test rejects samples of a slightly different model, so it has teeth.
    other = brute_force(pairwise_log_weight(PairwiseIsing(model.h + 0.05, model.J)), 4)
    chi2_other = np.sum((counts - n * other["p"]) ** 2 / (n * other["p"]))
    assert sps.chi2.sf(chi2_other, 15) < 1e-6, chi2_other


def test_sample_chunked_is_exact_and_iid():
    """Many small chunks (multinomial over chunks, then a shuffle): moments and no ordering."""
    model = random_model(10, 0.3, 0.3, seed=15)
    sol = exact_solve(model)
    n = 30000
    X = exact_sample(model, n, seed=16, chunk_size=16)
    Sf = X.astype(float)
    se = np.sqrt((1 - sol.mean**2) / n)
    assert np.max(np.abs(Sf.mean(axis=0) - sol.mean) / se) < 4.5
    iu = np.triu_indices(10, 1)
    emp = (Sf.T @ Sf / n)[iu]
    se2 = np.sqrt((1 - sol.second_moment[iu] ** 2) / n)
    assert np.max(np.abs(emp - sol.second_moment[iu]) / se2) < 4.5
    # i.i.d. order: the first and second halves have the same mean, consecutive rows uncorrelated.
    half = n // 2
    assert np.max(np.abs(Sf[:half].mean(0) - Sf[half:].mean(0)) / (se * 2)) < 4.5
    lag1 = np.mean((Sf[1:, 0] - sol.mean[0]) * (Sf[:-1, 0] - sol.mean[0])) / (1 - sol.mean[0] ** 2)
    assert abs(lag1) < 4.5 / np.sqrt(n)


def test_sample_seeding():
    model = random_model(6, seed=17)
    a = exact_sample(model, 500, seed=3)
    assert np.array_equal(a, exact_sample(model, 500, seed=3))
    assert np.array_equal(a, exact_sample(model, 500, seed=np.random.SeedSequence(3)))
    assert not np.array_equal(a, exact_sample(model, 500, seed=4))


def test_sample_n20_bounded():
    model = random_model(20, 0.2, 0.15, seed=18)
    tracemalloc.start()
    X = exact_sample(model, 2000, seed=19)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 * 2**20  # the 2^20 probabilities and their running sum, never 2^20 × N values
    assert X.shape == (2000, 20)


# ------------------------------------------------------------------------------ lattice tori
@pytest.mark.parametrize("L,J,h", [(2, 0.3, 0.0), (3, 0.4, 0.1), (4, K_C, 0.0), (4, -0.3, 0.2), (3, -30.0, 0.5), (4, 60.0, 0.0)])
def test_lattice_magnetisation_matches_enumeration(L, J, h):
    model = LatticeIsing(L, J, h)
    tm, sol = lattice_magnetisation(model), exact_solve(model)
    assert tm.log_z == pytest.approx(sol.log_z, abs=1e-12 * max(1.0, abs(sol.log_z)))
    np.testing.assert_allclose(tm.pmf, sol.magnetisation_pmf, atol=1e-13)
    for key in ("abs_m", "m2", "m4", "susceptibility", "binder"):
        assert getattr(tm, key) == pytest.approx(getattr(sol, key), abs=1e-11), key


# REFERENCE_VALUES.md, "⟨|m|⟩ on small tori".
@pytest.mark.parametrize("L,K,abs_m", [(4, 0.2, 0.342765627554), (4, K_C, 0.843860444813), (4, 0.6, 0.972867450245)])
def test_reference_abs_m_4x4_by_enumeration(L, K, abs_m):
    assert exact_solve(LatticeIsing(L, K, 0.0)).abs_m == pytest.approx(abs_m, abs=5e-13)


@pytest.mark.parametrize("K,abs_m,m2", [(0.3, 0.2739808, None), (0.4, 0.6031290, None), (K_C, 0.7773311, 0.6469116), (0.5, 0.9114523, None)])
def test_reference_abs_m_8x8_by_transfer_matrix(K, abs_m, m2):
    tm = lattice_magnetisation(LatticeIsing(8, K, 0.0))
    assert tm.log_z == pytest.approx(kaufman_log_z(8, K), abs=1e-11)
    assert tm.abs_m == pytest.approx(abs_m, abs=5e-8)
    if m2 is not None:
        assert tm.m2 == pytest.approx(m2, abs=5e-8)


# -------------------------------------------------------------------------------- exact_mle
@pytest.fixture(scope="module")
def mle_data():
    true = random_model(8, 0.4, 0.4, seed=20)
    X = exact_sample(true, 4000, seed=21)
    Sf = X.astype(float)
    return true, X, Sf.mean(axis=0), Sf.T @ Sf / len(X)


def test_mle_reproduces_data_moments(mle_data):
    true, X, mean, second = mle_data
    fit, info = exact_mle(X, return_info=True)
    assert info.converged and info.grad_max <= 1e-8 and info.method == "newton"
    sol = exact_solve(fit)
    np.testing.assert_allclose(sol.mean, mean, atol=1e-6)
    np.testing.assert_allclose(sol.second_moment, second, atol=1e-6)
    assert info.log_likelihood == pytest.approx(log_likelihood(fit, X), abs=1e-12)
    # It is the maximum: the true model and nearby models have a lower likelihood.
    assert log_likelihood(true, X) < info.log_likelihood
    rng = np.random.default_rng(22)
    for _ in range(3):
        dJ = np.triu(rng.normal(0, 0.01, (8, 8)), 1)
        assert log_likelihood(PairwiseIsing(fit.h + rng.normal(0, 0.01, 8), fit.J + dJ + dJ.T), X) < info.log_likelihood
    # And it is close to the model that generated the data (4000 samples).
    assert np.max(np.abs(fit.J - true.J)) < 0.2 and np.max(np.abs(fit.h - true.h)) < 0.2


def test_mle_methods_and_inputs_agree(mle_data):
    _, X, mean, second = mle_data
    newton = exact_mle(X)
    for other in (exact_mle(X, method="lbfgs"), exact_mle(moments=(mean, second, len(X))), exact_mle((X + 1) // 2)):
        np.testing.assert_allclose(other.h, newton.h, atol=1e-6)
        np.testing.assert_allclose(other.J, newton.J, atol=1e-6)


def test_mle_newton_cg_polish(mle_data):
    """The path used for N > 14: a few L-BFGS steps, then Newton-CG on Hessian-vector products."""
    _, X, mean, second = mle_data
    newton = exact_mle(X)
    fit, info = exact_mle(X, method="lbfgs", max_iter=3, return_info=True)
    assert info.converged and info.grad_max <= 1e-8 and info.iterations > 3
    np.testing.assert_allclose(fit.J, newton.J, atol=1e-7)
    np.testing.assert_allclose(fit.h, newton.h, atol=1e-7)
    init = exact_mle(X, method="lbfgs", init=newton, return_info=True)[1]
    assert init.converged and init.iterations <= 1  # starting at the optimum


def test_mle_l2_shrinks_and_is_stationary(mle_data):
    _, X, mean, second = mle_data
    iu = np.triu_indices(8, 1)
    norms = []
    for l2 in (0.0, 0.003, 0.03):
        fit = exact_mle(X, l2=l2)
        theta = np.concatenate([fit.h, fit.J[iu]])
        sol = exact_solve(fit)
        # Stationarity of ℓ − l2‖θ‖²: data moments − model moments = 2·l2·θ.
        grad = np.concatenate([mean - sol.mean, (second - sol.second_moment)[iu]]) - 2 * l2 * theta
        assert np.max(np.abs(grad)) < 1e-8
        norms.append(np.linalg.norm(theta))
    assert norms[0] > norms[1] > norms[2]


def test_hessian_vector_product_matches_covariance():
    model = random_model(6, 0.5, 0.5, seed=23)
    ref = brute_force(pairwise_log_weight(model), 6)
    iu = np.triu_indices(6, 1)
    S = ref["states"].astype(float)
    phi = np.concatenate([S, S[:, iu[0]] * S[:, iu[1]]], axis=1)
    mu = ref["p"] @ phi
    cov = (phi.T * ref["p"]) @ phi - np.outer(mu, mu)
    v = np.random.default_rng(24).normal(size=mu.size)
    np.testing.assert_allclose(_hessp(model.h, model.J, ref["log_z"], mu, v, 0.1, 4), cov @ v + 0.2 * v, atol=1e-12)


def test_mle_never_flipping_spin():
    X = exact_sample(random_model(5, 0.3, 0.3, seed=25), 300, seed=26)
    X[:, 3] = 1
    with pytest.raises(InputError, match=r"spin 3 is \+1 in every sample.*l2"):
        exact_mle(X)
    X[:, 3] = -1
    with pytest.raises(InputError, match=r"spin 3 is -1"):
        exact_mle((X + 1) // 2)
    fit = exact_mle(X, l2=0.01)
    assert fit.h[3] < -1.0 and np.all(np.isfinite(fit.J))


def test_mle_pair_never_together():
    """Two spins never both +1: J → −∞ without a penalty."""
    X = exact_sample(random_model(5, 0.3, 0.3, seed=27), 400, seed=28)
    both = (X[:, 0] == 1) & (X[:, 2] == 1)
    X[both, 2] = -1
    with pytest.raises(InputError, match=r"spins 0 and 2 are never \(\+1, \+1\)"):
        exact_mle(X)
    fit = exact_mle(X, l2=0.01)
    assert fit.J[0, 2] < -0.5


def test_mle_bad_input():
    with pytest.raises(InputError, match="exactly one"):
        exact_mle()
    with pytest.raises(InputError, match="N <= 20"):
        exact_mle(np.random.default_rng(0).choice([-1, 1], (50, 21)))
    with pytest.raises(InputError, match="l2"):
        exact_mle(np.array([[1, -1], [-1, 1]]), l2=-1)
    with pytest.raises(InputError):
        exact_mle(moments=(np.zeros(3), np.eye(2), 10))
