"""Population statistics (neural_stats) against their definitions, and the synthetic generators.

Everything here is small and fast (fixed seeds, a few thousand bins).
"""
import itertools

import numpy as np
import pytest

from inverse_ising import neural_stats as ns
from inverse_ising import synthetic
from inverse_ising.errors import InputError
from inverse_ising.temporal import delayed_correlations


def random_raster(T=4000, N=6, p=0.2, seed=0):
    rng = np.random.default_rng(seed)
    S = np.where(rng.random((T, N)) < p, 1, -1).astype(np.int8)
    # some structure: neuron 1 copies neuron 0 half of the time, neuron 2 copies neuron 1
    S[:, 1] = np.where(rng.random(T) < 0.5, S[:, 0], S[:, 1])
    S[:, 2] = np.where(rng.random(T) < 0.5, S[:, 1], S[:, 2])
    return S


def markov_raster(T, N, flip, seed):
    """Independent neurons that keep their state from bin to bin with probability 1 − flip."""
    rng = np.random.default_rng(seed)
    S = np.empty((T, N), dtype=np.int8)
    S[0] = np.where(rng.random(N) < 0.5, 1, -1)
    flips = rng.random((T, N)) < flip
    for t in range(1, T):
        S[t] = np.where(flips[t], -S[t - 1], S[t - 1])
    return S


# ------------------------------------------------------------------------------ conversions
def test_neural_spin_conversion_is_the_same_distribution():
    rng = np.random.default_rng(1)
    N = 5
    W = np.triu(rng.normal(0, 1, (N, N)), 1)
    W = W + W.T
    b = rng.normal(-1, 1, N)
    h, J = ns.neural_to_spin(b, W)
    np.testing.assert_allclose(J, W / 4)
    np.testing.assert_allclose(h, b / 2 + W.sum(axis=1) / 4)
    b2, W2 = ns.spin_to_neural(h, J)
    np.testing.assert_allclose(b2, b)
    np.testing.assert_allclose(W2, W)
    X = np.array(list(itertools.product([0, 1], repeat=N)), dtype=float)
    S = 2 * X - 1
    log_neural = X @ b + 0.5 * np.einsum("mi,ij,mj->m", X, W, X)
    log_spin = S @ h + 0.5 * np.einsum("mi,ij,mj->m", S, J, S)
    diff = log_neural - log_spin
    np.testing.assert_allclose(diff, diff[0], atol=1e-12)  # equal up to the normalisation


def test_neural_spin_conversion_of_the_kinetic_model():
    rng = np.random.default_rng(2)
    N = 4
    W = rng.normal(0, 1, (N, N))  # asymmetric, diagonal included
    b = rng.normal(-1, 1, N)
    h, J = ns.neural_to_spin(b, W)
    for x in itertools.product([0, 1], repeat=N):
        x = np.array(x, float)
        s = 2 * x - 1
        p_neural = 1 / (1 + np.exp(-(b + W @ x)))
        H = h + J @ s
        np.testing.assert_allclose(p_neural, (1 + np.tanh(H)) / 2, rtol=1e-12)


def test_conversion_rejects_bad_shapes():
    with pytest.raises(InputError):
        ns.neural_to_spin(np.zeros(3), np.zeros((4, 4)))


# ------------------------------------------------------------------------------ statistics
def test_rates_correlations_and_counts_match_the_definitions():
    S = random_raster()
    x = (S + 1) / 2
    r, r_err = ns.firing_rates(S)
    np.testing.assert_allclose(r, x.mean(axis=0))
    C, C_err = ns.correlations_with_errors(S)
    np.testing.assert_allclose(C, np.cov(S.T, bias=True), atol=1e-12)
    P, P_err = ns.spike_count_distribution(S)
    np.testing.assert_allclose(P, np.bincount(x.sum(axis=1).astype(int), minlength=S.shape[1] + 1) / S.shape[0])
    assert P.sum() == pytest.approx(1.0)
    hz, _ = ns.firing_rates(S, bin_width=0.02)
    np.testing.assert_allclose(hz, r / 0.02)


def test_jackknife_errors_of_independent_bins_match_the_binomial_error():
    S = random_raster(T=20000, N=8, seed=3)
    r, err = ns.firing_rates(S, n_blocks=20)
    naive = np.sqrt(r * (1 - r) / S.shape[0])
    ratio = err / naive
    assert 0.6 < np.median(ratio) < 1.4, ratio


def test_jackknife_errors_grow_with_autocorrelation():
    """Bins that stay in the same state for ~20 bins carry fewer independent samples."""
    S = markov_raster(20000, 6, flip=0.05, seed=4)
    r, err = ns.firing_rates(S, n_blocks=20)
    naive = np.sqrt(r * (1 - r) / S.shape[0])
    # τ_int = (1 − 2f)/(2f) + ½ ≈ 10 → the error grows by √(2τ) ≈ 4.4
    assert np.median(err / naive) > 2.5


def test_delayed_correlations_agree_with_temporal_and_respect_trials():
    S = markov_raster(3000, 5, flip=0.2, seed=5)
    starts = np.array([0, 1000, 2000])
    D, D_err = ns.delayed_correlations_with_errors(S, 1, trial_starts=starts)
    np.testing.assert_allclose(D, delayed_correlations(S, 1, trial_starts=starts), atol=1e-12)
    assert D_err.shape == D.shape and np.all(D_err > 0)
    # a different trial structure changes the pairs that are used
    D_one, _ = ns.delayed_correlations_with_errors(S, 1)
    assert not np.allclose(D, D_one)


def test_three_point_correlations_match_the_definition():
    S = random_raster(T=3000, N=6, seed=6)
    triplets, T, err = ns.three_point_correlations(S, n_blocks=10)
    d = S - S.mean(axis=0)
    expected = np.array([np.mean(d[:, i] * d[:, j] * d[:, k]) for i, j, k in triplets])
    assert triplets.shape == (20, 3)
    np.testing.assert_allclose(T, expected, atol=1e-12)
    assert err.shape == T.shape and np.all(err > 0)


def test_three_point_correlations_of_independent_neurons_vanish_within_errors():
    rng = np.random.default_rng(7)
    S = np.where(rng.random((20000, 8)) < 0.3, 1, -1).astype(np.int8)
    _, T, err = ns.three_point_correlations(S, n_blocks=20)
    z2 = np.mean((T / err) ** 2)
    assert 0.4 < z2 < 2.5


def test_three_point_subset_of_most_active_neurons():
    S = random_raster(T=2000, N=10, seed=8)
    top = ns.top_active_neurons(S, 4)
    counts = (S == 1).sum(axis=0)
    assert set(top) == set(np.argsort(-counts, kind="stable")[:4])
    triplets, T, err = ns.three_point_correlations(S, max_neurons=4)
    assert triplets.shape == (4, 3) and set(triplets.ravel()) == set(top) and err is None
    with pytest.raises(InputError):
        ns.three_point_correlations(S, neurons=[0, 0, 1])


def test_independent_spike_count_distribution_is_exact():
    rates = np.array([0.1, 0.5, 0.3, 0.05])
    P = ns.independent_spike_count_distribution(rates)
    exact = np.zeros(5)
    for x in itertools.product([0, 1], repeat=4):
        x = np.array(x)
        exact[x.sum()] += np.prod(np.where(x == 1, rates, 1 - rates))
    np.testing.assert_allclose(P, exact, atol=1e-15)


def test_distances_between_count_distributions():
    p = np.array([0.5, 0.3, 0.2, 0.0])
    assert ns.pk_kl_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    q = np.array([0.6, 0.3, 0.1, 0.0])
    assert ns.pk_kl_divergence(p, q) > 0
    # a model that never shows a value the data show: finite with a pseudo-count
    assert np.isfinite(ns.pk_kl_divergence(np.array([0.5, 0.5]), np.array([1.0, 0.0]), n_model=1000))
    assert ns.pk_chi2(p, np.full(4, 0.1), p) == 0.0
    assert ns.pk_chi2(p, np.array([0.1, 0.1, 0.1, 0.0]), q) == pytest.approx((1 + 0 + 1) / 3)


# ------------------------------------------------------------------------------ synthetic data
def test_retina_pairwise_model_is_sparse_positive_leaning_and_reproducible():
    a = synthetic.retina_pairwise_model(40, seed=11)
    b = synthetic.retina_pairwise_model(40, seed=11)
    c = synthetic.retina_pairwise_model(40, seed=12)
    np.testing.assert_array_equal(a.J, b.J)
    assert not np.array_equal(a.J, c.J)
    J = a.J
    np.testing.assert_array_equal(J, J.T)
    assert np.all(np.diag(J) == 0)
    coupled = J[np.triu_indices(40, 1)]
    coupled = coupled[coupled != 0]
    assert 0.08 < coupled.size / 780 < 0.25  # density ≈ 0.15
    assert np.mean(coupled > 0) > 0.6
    h, Jb = ns.neural_to_spin(a.b, a.W)
    np.testing.assert_allclose(a.h, h)


def test_retina_pairwise_data_are_retina_like():
    model = synthetic.retina_pairwise_model(40, seed=0)
    ds = synthetic.retina_pairwise_data(5000, model, seed=1, backend="numpy")
    assert ds.spins.shape == (5000, 40) and ds.n_trials == 5000
    rates = ds.activity()
    assert 0.01 < rates.min() and rates.max() < 0.13
    assert 0.02 < rates.mean() < 0.10
    # correlated: many more bins with ≥ 6 active neurons than independent neurons would give
    P, _ = ns.spike_count_distribution(ds.spins)
    independent = ns.independent_spike_count_distribution(rates)
    assert P[6:].sum() > 2 * independent[6:].sum()


def test_retina_kinetic_model_and_data():
    km = synthetic.retina_kinetic_model(30, seed=3)
    assert not np.allclose(km.J, km.J.T)
    assert np.all(np.diag(km.J) == 0)
    ds = synthetic.retina_kinetic_data(10, 200, km, seed=4, backend="numpy")
    assert ds.spins.shape == (2000, 30)
    np.testing.assert_array_equal(ds.trial_starts, np.arange(10) * 200)
    assert 0.01 < ds.activity().mean() < 0.12
    D, err = ns.delayed_correlations_with_errors(ds.spins, 1, ds.trial_starts)
    # the strongest true couplings show up as the largest delayed correlations
    strong = km.J > np.quantile(km.J, 0.97)
    assert D[strong].mean() > 5 * np.abs(D[~strong & ~np.eye(30, dtype=bool)]).mean()


def test_generators_reject_bad_arguments():
    with pytest.raises(InputError):
        synthetic.retina_pairwise_model(40, rate_range=(0.2, 0.1))
    with pytest.raises(InputError):
        synthetic.retina_kinetic_model(40, connectivity=1.5)
    with pytest.raises(InputError):
        synthetic.retina_pairwise_data(10, synthetic.retina_kinetic_model(5).model)
