"""Parallel tempering: the β = 1 copies sample the model where plain chains stay in one basin.

The test model is a small ferromagnet in a field, p(s) ∝ exp(h Σsᵢ + J Σ_{i<j} sᵢsⱼ) with N = 12,
J = 0.25, h = −0.1: two basins (all down, all up; all down e^{2.4} ≈ 11 times as likely)
separated by a free-energy barrier of about 11, so a single-spin chain started all up stays
there for tens of thousands of sweeps, while at β = 0.4 the barrier is gone.  Moments are
compared with exact enumeration, with errors from the spread between independent chains.
"""
import numpy as np

import inverse_ising as ii
from inverse_ising.exact import exact_solve
from inverse_ising.sampling import Chains
from inverse_ising.tempering import MIN_ACCEPT, TemperedChains, pairwise_energy

N, J, H = 12, 0.25, -0.1
Z_MAX = 4.0


def ferromagnet():
    Jm = np.full((N, N), J)
    np.fill_diagonal(Jm, 0.0)
    return ii.PairwiseIsing(np.full(N, H), Jm)


def chain_magnetisations(chains, n_burn, n_record):
    chains.sweep(n_burn)
    per_chain = np.zeros(chains.n_local)
    for _ in range(n_record):
        chains.sweep(1)
        per_chain += chains.spins.mean(axis=1)
    return per_chain / n_record


def test_energy_is_minus_log_weight():
    model = ferromagnet()
    S = (2 * np.random.default_rng(0).integers(0, 2, (20, N)) - 1).astype(np.int8)
    np.testing.assert_allclose(pairwise_energy(model, S), model.energy(S), rtol=1e-12)


def test_tempered_chains_cross_the_barrier_that_plain_chains_cannot():
    model = ferromagnet()
    exact = exact_solve(model).mean.mean()
    plain = Chains(model, 64, seed=1, init="up")
    m_plain = chain_magnetisations(plain, 100, 300)
    # plain chains stay in the basin they started in: far from the exact magnetisation
    assert m_plain.mean() > 0.5 > exact + 1.0
    tempered = TemperedChains(Chains(model, 64, seed=1, init="up"), betas=(1.0, 0.8, 0.6, 0.4),
                              seed=np.random.SeedSequence(2))
    tempered.sweep(50)
    tempered.adapt()
    m = chain_magnetisations(tempered, 200, 600)
    z = (m.mean() - exact) / (m.std(ddof=1) / np.sqrt(m.size))
    assert abs(z) < Z_MAX, (m.mean(), exact, z)


def test_ladder_gains_a_temperature_where_exchanges_are_rare():
    model = ferromagnet()
    tempered = TemperedChains(Chains(model, 32, seed=3, init="up"), betas=(1.0, 0.4), seed=np.random.SeedSequence(4))
    tempered.sweep(30)
    rates = tempered.adapt()
    assert rates[0] < MIN_ACCEPT
    assert len(tempered.betas) == 3 and tempered.betas[1] == 0.7
    assert tempered.states.shape == (3 * 32, N)
    tempered.sweep(5)  # the new ladder runs


def test_same_seed_same_states():
    model = ferromagnet()
    runs = []
    for _ in range(2):
        t = TemperedChains(Chains(model, 16, seed=5, init="up"), seed=np.random.SeedSequence(6))
        t.sweep(20)
        t.adapt()
        t.sweep(20)
        runs.append(t.states.copy())
    np.testing.assert_array_equal(*runs)
