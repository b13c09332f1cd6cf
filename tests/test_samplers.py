"""The numpy reference samplers against exact results (enumeration, Kaufman) and a plain loop.

Every statistical comparison uses fixed seeds and error bars that account for autocorrelation
(`stats.mean_and_error` on (T, C) arrays of independent chains, or a jackknife over chains),
and asserts |z| < 4 (SPEC §3).
"""
import numpy as np
import pytest

import inverse_ising as ii
from inverse_ising import stats
from inverse_ising.exact import exact_solve
from inverse_ising.onsager import K_C, kaufman_energy
from inverse_ising.reference import NumpyBackend, p_up

RULES = ["metropolis", "glauber"]


def chain_series(X, n_chains):
    """(n_samples, N) in time-then-chain order → (T, C, N)."""
    return X.reshape(-1, n_chains, X.shape[1])


def z_score(estimate, error, exact):
    return (estimate - exact) / error


# ----------------------------------------------------------------------- same randomness, plain loops
def plain_lattice_sweep(grid, J, h, rule, u, periodic):
    """Site by site, black sites then white, straight from the definitions."""
    C, L, _ = grid.shape
    for colour in (0, 1):
        new = grid.copy()
        for c in range(C):
            for r in range(L):
                for k in range(L):
                    if (r + k) % 2 != colour:
                        continue
                    n = 0
                    for rr, kk in ((r - 1, k), (r + 1, k), (r, k - 1), (r, k + 1)):
                        if periodic:
                            n += grid[c, rr % L, kk % L]
                        elif 0 <= rr < L and 0 <= kk < L:
                            n += grid[c, rr, kk]
                    f = J * n + h
                    s = grid[c, r, k]
                    if rule == "metropolis":
                        new[c, r, k] = -s if u[c, r, k] < np.exp(-2.0 * s * f) else s
                    else:
                        new[c, r, k] = 1 if u[c, r, k] < p_up(f) else -1
        grid[...] = new


def plain_pairwise_sweep(S, h, J, rule, u):
    for c in range(S.shape[0]):
        for i in range(S.shape[1]):
            f = h[i] + J[i] @ S[c].astype(float)
            s = S[c, i]
            if rule == "metropolis":
                S[c, i] = -s if u[c, i] < np.exp(-2.0 * s * f) else s
            else:
                S[c, i] = 1 if u[c, i] < p_up(f) else -1


def random_spins(rng, shape):
    return (2 * rng.integers(0, 2, size=shape) - 1).astype(np.int8)


def random_couplings(rng, N, scale=1.0):
    J = rng.uniform(-scale, scale, size=(N, N))
    J = np.triu(J, 1)
    return J + J.T


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("boundary", ["periodic", "open"])
def test_lattice_kernel_matches_plain_loop(rule, boundary):
    rng = np.random.default_rng(11)
    grid = random_spins(rng, (3, 6, 6))
    expected = grid.copy()
    u = rng.random((4, 3, 6, 6))
    NumpyBackend().lattice_sweeps(grid, 0.45, -0.2, boundary, rule, 4, uniforms=u)
    for t in range(4):
        plain_lattice_sweep(expected, 0.45, -0.2, rule, u[t], boundary == "periodic")
    np.testing.assert_array_equal(grid, expected)


@pytest.mark.parametrize("rule", RULES)
def test_pairwise_kernel_matches_plain_loop(rule):
    rng = np.random.default_rng(12)
    N = 37  # more than two blocks of the blocked local fields
    h, J = rng.normal(0, 0.5, N), random_couplings(rng, N, 0.6)
    S = random_spins(rng, (5, N))
    expected = S.copy()
    u = rng.random((3, 5, N))
    NumpyBackend().pairwise_sweeps(S, h, J, rule, 3, uniforms=u)
    for t in range(3):
        plain_pairwise_sweep(expected, h, J, rule, u[t])
    np.testing.assert_array_equal(S, expected)


def test_kinetic_kernel_matches_plain_loop():
    rng = np.random.default_rng(13)
    N = 9
    h, J = rng.normal(0, 0.5, N), rng.normal(0, 1, (N, N))
    S = random_spins(rng, (4, N))
    expected = S.copy()
    u = rng.random((5, 4, N))
    out = np.empty((5, 4, N), dtype=np.int8)
    NumpyBackend().kinetic_steps(S, h, J, 5, uniforms=u, out=out)
    for t in range(5):
        H = h + expected.astype(float) @ J.T
        expected = np.where(u[t] < p_up(H), 1, -1).astype(np.int8)
        np.testing.assert_array_equal(out[t], expected)
    np.testing.assert_array_equal(S, expected)


# ----------------------------------------------------------------------- seeds
def test_same_seed_same_samples_and_different_seed_differs():
    m = ii.LatticeIsing(8, 0.4)
    a = ii.sample(m, 50, seed=5, burn_in=5, thin=1, backend="numpy")
    b = ii.sample(m, 50, seed=5, burn_in=5, thin=1, backend="numpy")
    c = ii.sample(m, 50, seed=6, burn_in=5, thin=1, backend="numpy")
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.int8 and a.shape == (50, 64)


@pytest.mark.parametrize("backend", ["numpy", "cython"])
def test_sample_ordering_is_time_then_chain(backend):
    """Row t·C + c of ``sample`` is chain c after burn_in + (t + 1)·thin sweeps: the same chains
    (same seed) driven by hand through ``Chains`` give the rows in that order, the last record
    cut to n_samples."""
    if backend == "cython":
        pytest.importorskip("inverse_ising.backends.cython_backend",
                            reason="the compiled kernels are not built (INVERSE_ISING_NO_KERNELS=1)")
    rng = np.random.default_rng(4)
    model = ii.PairwiseIsing(rng.normal(0.0, 0.3, size=6), random_couplings(rng, 6, 0.5))
    C, burn_in, thin, n_samples = 3, 7, 2, 10  # 4 records per chain, the last one cut to chain 0
    X = ii.sample(model, n_samples, seed=8, n_chains=C, burn_in=burn_in, thin=thin, backend=backend, progress=False)
    chains = ii.Chains(model, C, backend=backend, seed=8)
    chains.sweep(burn_in)
    records = []
    for _ in range(4):
        chains.sweep(thin)
        records.append(chains.spins.copy())
    by_hand = np.stack(records)  # (T, C, N)
    np.testing.assert_array_equal(X, by_hand.reshape(-1, 6)[:n_samples])
    # the test has power: chain-then-time order would give other rows
    assert not np.array_equal(X, by_hand.transpose(1, 0, 2).reshape(-1, 6)[:n_samples])


# ----------------------------------------------------------------------- exact comparisons
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("K", [0.3, K_C])
def test_4x4_lattice_against_enumeration(rule, K):
    model = ii.LatticeIsing(4, K, 0.0)
    exact = exact_solve(model)
    C, T = 200, 400
    X = ii.sample(model, C * T, rule=rule, seed=21, n_chains=C, burn_in=200, thin=1, backend="numpy")
    series = chain_series(X, C)
    m = series.mean(axis=2, dtype=float)
    u = stats.energy_per_spin(model, X).reshape(T, C)
    for value, exact_value in [(stats.mean_and_error(u), exact.energy), (stats.mean_and_error(np.abs(m)), exact.abs_m)]:
        assert abs(z_score(*value, exact_value)) < 4, (value, exact_value)
    chi, chi_err = stats.jackknife_over_chains(lambda mm: stats.susceptibility(mm, 16), m)
    assert abs(z_score(chi, chi_err, exact.susceptibility)) < 4, (chi, chi_err, exact.susceptibility)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("K", [0.3, K_C, 0.5])
def test_16x16_lattice_energy_against_kaufman(rule, K):
    model = ii.LatticeIsing(16, K, 0.0)
    C, T = 64, 600
    X = ii.sample(model, C * T, rule=rule, seed=22, n_chains=C, burn_in=400, thin=1, init="up", backend="numpy")
    u_per_J = -model.bond_sum(X).reshape(T, C) / model.n_spins
    estimate, error = stats.mean_and_error(u_per_J)
    assert abs(z_score(estimate, error, kaufman_energy(16, K))) < 4, (estimate, error, kaufman_energy(16, K))


@pytest.mark.parametrize("rule", RULES)
def test_pairwise_moments_against_enumeration(rule):
    rng = np.random.default_rng(31)
    N = 12
    model = ii.PairwiseIsing(rng.normal(0, 0.4, N), random_couplings(rng, N, 1.0))  # Jᵢⱼ uniform in [−1, 1]
    exact = exact_solve(model)
    C, T = 200, 400
    X = ii.sample(model, C * T, rule=rule, seed=32, n_chains=C, burn_in=200, thin=1, backend="numpy")
    series = chain_series(X, C).astype(float)
    z = [z_score(*stats.mean_and_error(series[:, :, i]), exact.mean[i]) for i in range(N)]
    iu, ju = np.triu_indices(N, 1)
    z += [z_score(*stats.mean_and_error(series[:, :, i] * series[:, :, j]), exact.second_moment[i, j]) for i, j in zip(iu, ju)]
    assert np.max(np.abs(z)) < 4, np.max(np.abs(z))
    assert np.abs(model.J).max() > 0.8  # the couplings really are of order one


def test_kinetic_transition_frequencies_against_exact_probabilities():
    rng = np.random.default_rng(41)
    N = 3
    model = ii.KineticIsing(rng.normal(0, 0.3, N), rng.normal(0, 0.8, (N, N)))
    S = ii.simulate(model, 100_000, seed=42, backend="numpy")
    now, nxt = S[:-1], S[1:]
    codes = ((now + 1) // 2) @ (1 << np.arange(N))
    worst = 0.0
    for code in range(1 << N):
        rows = codes == code
        n = rows.sum()
        assert n > 1000
        state = np.array([1 if code >> i & 1 else -1 for i in range(N)])
        p = p_up(model.h + model.J @ state)  # exact P(sᵢ(t+1) = +1 | s(t))
        freq = (nxt[rows] > 0).mean(axis=0)
        worst = max(worst, np.max(np.abs(freq - p) / np.sqrt(p * (1 - p) / n)))
    assert worst < 4, worst
