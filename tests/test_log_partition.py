"""ln Z by annealed importance sampling and the held-out log-likelihood, against exact values:
enumeration at N = 20, independent blocks (ln Z = Σ block ln Z) and Kaufman's torus at N ≥ 60."""
import math
import warnings

import numpy as np
import pytest

import inverse_ising as ii
from inverse_ising.errors import InputError
from inverse_ising.log_partition import (
    bridge_estimate,
    estimate_cost,
    independent_blocks,
    log_likelihood,
    log_mean_exp,
    log_partition,
    relax_sweeps,
)
from inverse_ising.synthetic import retina_pairwise_model


def _symmetric(rng, n, mean, std):
    J = np.triu(rng.normal(mean, std, (n, n)), 1)
    return J + J.T


def sk_model(n, beta, seed):
    """Sherrington–Kirkpatrick couplings Jᵢⱼ ~ Normal(0, β/√n) and weak random fields."""
    rng = np.random.default_rng(seed)
    return ii.PairwiseIsing(rng.normal(0.0, 0.1, n), _symmetric(rng, n, 0.0, beta / math.sqrt(n)))


def block_models(n_blocks=6, size=10, seed=3):
    """Strongly coupled blocks, alternately ferromagnetic (Jᵢⱼ ~ Normal(0.3, 0.1): ordered at T = 1)
    and spin-glass (Jᵢⱼ ~ Normal(0, 1.5/√size)), with fields ~ Normal(0, 0.2)."""
    rng = np.random.default_rng(seed)
    blocks = []
    for b in range(n_blocks):
        J = _symmetric(rng, size, 0.3, 0.1) if b % 2 == 0 else _symmetric(rng, size, 0.0, 1.5 / math.sqrt(size))
        blocks.append(ii.PairwiseIsing(rng.normal(0.0, 0.2, size), J))
    return blocks


@pytest.mark.parametrize("model", [sk_model(20, 1.5, seed=1), retina_pairwise_model(20, connectivity=0.3).model],
                         ids=["sk", "retina"])
def test_ais_matches_enumeration_at_20_spins(model):
    exact = ii.exact_log_z(model)
    est = log_partition(model, method="ais", seed=5)
    assert est.method == "ais" and est.stderr <= 0.1
    assert abs(est.value - exact) <= max(4 * est.stderr, 0.02)
    assert abs(est.reverse - exact) <= max(4 * est.reverse_stderr, 0.02)
    assert abs(est.bridge - exact) <= max(4 * est.bridge_stderr, 0.02)
    auto = log_partition(model)
    assert auto.method == "exact" and auto.value == exact and auto.stderr == 0.0


def test_ais_on_independent_blocks_at_60_spins():
    blocks = block_models()
    model = independent_blocks(blocks)
    exact = sum(ii.exact_log_z(b) for b in blocks)
    est = log_partition(model, seed=2)
    assert model.n_spins == 60 and est.method == "ais"
    assert est.stderr <= 0.1
    assert abs(est.value - exact) <= max(4 * est.stderr, 0.05)
    assert est.agree and 1 < est.ess <= est.n_particles


def test_ais_on_periodic_lattice_at_the_critical_coupling():
    L = 10
    est = log_partition(ii.LatticeIsing(L, ii.K_C), seed=3)
    exact = ii.kaufman_log_z(L, ii.K_C)
    assert est.stderr <= 0.1
    assert abs(est.value - exact) <= max(4 * est.stderr, 0.05)
    assert abs(est.reverse - exact) <= max(4 * est.reverse_stderr, 0.05)
    # the relaxed particles' energy per spin, in units of J, against Kaufman's
    u = est.energy / (L * L * ii.K_C)
    assert abs(u - ii.kaufman_energy(L, ii.K_C)) <= 4 * est.energy_stderr / (L * L * ii.K_C)


def test_held_out_log_likelihood_of_exact_block_samples():
    blocks = block_models()
    model = independent_blocks(blocks)
    X = np.hstack([ii.exact_sample(b, 2000, seed=10 + k) for k, b in enumerate(blocks)])
    exact = float(np.mean(model.log_weight(X))) - sum(ii.exact_log_z(b) for b in blocks)
    ll = log_likelihood(model, X, seed=4, target_stderr=0.025)
    assert ll.log_z.method == "ais" and ll.log_z.stderr <= 0.03
    assert abs(ll.value - exact) <= 0.1
    assert ll.stderr == pytest.approx(math.hypot(ll.data_stderr, ll.log_z.stderr))


def test_log_likelihood_is_exact_up_to_20_spins():
    model = retina_pairwise_model(12).model
    X = ii.exact_sample(model, 500, seed=1)
    ll = log_likelihood(model, (X + 1) // 2)  # 0/1 data are accepted
    assert ll.value == pytest.approx(ii.log_likelihood(model, X), abs=1e-12)
    assert ll.log_z.stderr == 0.0 and ll.stderr == ll.data_stderr > 0


def test_too_short_a_path_is_flagged_by_the_reverse_run():
    model = independent_blocks(block_models())
    with pytest.warns(RuntimeWarning, match="disagree"):
        est = log_partition(model, seed=1, schedule=np.linspace(0.0, 1.0, 4), n_relax=200)
    assert not est.agree and est.reverse > est.value


def test_explicit_schedule_particles_and_base():
    model = sk_model(24, 1.0, seed=2)
    betas = np.linspace(0.0, 1.0, 301)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = log_partition(model, seed=7, schedule=betas, n_particles=64, base="uniform", reverse=False)
        b = log_partition(model, seed=7, schedule=betas, n_particles=64, base="uniform", reverse=False)
    assert a.n_temperatures == 300 and a.n_particles == 64 and a.reverse is None and a.energy is None
    assert a.value == b.value  # one seed repeats the run
    c = log_partition(model, seed=7, n_temperatures=300, n_particles=64)
    assert c.n_temperatures == 300
    assert abs(a.value - c.value) <= 4 * math.hypot(a.stderr, c.stderr)


def test_log_mean_exp_and_bridge():
    value, stderr, ess = log_mean_exp(np.full(10, 2.5))
    assert value == pytest.approx(2.5) and stderr == 0.0 and ess == pytest.approx(10)
    # Gaussian work pairs obeying Crooks' relation: a ~ N(c − v/2, v), b ~ N(−c − v/2, v)
    rng = np.random.default_rng(0)
    c, v, n = 3.0, 1.0, 20000
    a = rng.normal(c - v / 2, math.sqrt(v), n)
    b = rng.normal(-c - v / 2, math.sqrt(v), n)
    assert bridge_estimate(a, b) == pytest.approx(c, abs=0.02)
    assert log_mean_exp(a)[0] == pytest.approx(c, abs=0.03)


def test_estimate_cost():
    model = ii.LatticeIsing(8, 0.4)
    cost = estimate_cost(model, n_particles=32, n_temperatures=400, n_probe=5)
    assert cost.steps == 2 * 400 + relax_sweeps(400) and cost.seconds > cost.seconds_per_step * cost.steps
    assert cost.memory_bytes == 32 * 64 * 17
    pairwise = estimate_cost(model.to_pairwise(), n_particles=32, n_temperatures=400, reverse=False, n_probe=5)
    assert pairwise.steps == 400 and pairwise.memory_bytes == 32 * 64 * 17 + 3 * 8 * 64 * 64


@pytest.mark.parametrize("call", [
    lambda: log_partition(ii.KineticIsing(np.zeros(3), np.zeros((3, 3)))),
    lambda: log_partition(ii.LatticeIsing(4, 0.3), method="mcmc"),
    lambda: log_partition(ii.LatticeIsing(6, 0.3), schedule=[0.0, 0.7, 0.5, 1.0]),
    lambda: log_partition(ii.LatticeIsing(6, 0.3), base="ones"),
    lambda: log_partition(ii.LatticeIsing(6, 0.3), target_stderr=0.0),
    lambda: log_likelihood(ii.LatticeIsing(2, 0.3), np.ones((3, 5))),
])
def test_bad_input_raises_one_input_error(call):
    with pytest.raises(InputError):
        call()
