"""The Cython backend against the numpy reference and the exact oracle (docs/conventions.md).

* Same randomness, same trajectory: every kernel fed the reference's uniforms reproduces the
  reference's states exactly (lattice both rules and boundaries, pairwise both rules, kinetic).
* Statistics: with its own xoshiro256** generators, moments agree with exact enumeration within
  autocorrelation-aware error bars (|z| < 4, fixed seeds).
* Reproducibility: the same seed gives the same output, for any thread count and SIMD build.
"""
import math

import numpy as np
import pytest

import inverse_ising as ii
from inverse_ising.backend import get_backend
from inverse_ising.errors import InputError
from inverse_ising.exact import exact_solve
from inverse_ising.onsager import kaufman_energy
from inverse_ising.reference import exp as REF_EXP
from inverse_ising.reference import p_up
from inverse_ising.stats import mean_and_error

cb_module = pytest.importorskip("inverse_ising.backends.cython_backend",
                                reason="the compiled kernels are not built (INVERSE_ISING_NO_KERNELS=1)")
CythonBackend = cb_module.CythonBackend

Z_MAX = 4.0
REF = get_backend("numpy")


def random_spins(shape, rng):
    return (2 * rng.integers(0, 2, size=shape) - 1).astype(np.int8)


def random_pairwise(N, rng, scale=1.0, dyadic=False):
    """Symmetric J with zero diagonal and h; ``dyadic``: multiples of 1/64 (every sum exact)."""
    J = rng.normal(0.0, scale / np.sqrt(N), size=(N, N))
    h = rng.normal(0.0, 0.3, size=N)
    if dyadic:
        J, h = np.round(J * 64) / 64, np.round(h * 64) / 64
    J = np.triu(J, 1)
    return h, J + J.T


@pytest.fixture(scope="module")
def cy():
    return CythonBackend()


# ------------------------------------------------------------------------------------------ RNG
def xoshiro_python(state, n):
    """Reference xoshiro256** (Blackman & Vigna) in plain Python integers."""
    s = [int(x) for x in state]
    mask = (1 << 64) - 1
    rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & mask  # noqa: E731
    out = []
    for _ in range(n):
        out.append(rotl((s[1] * 5) & mask, 7) * 9 & mask)
        t = (s[1] << 17) & mask
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
    return out


def test_generator_is_four_xoshiro_lanes_read_in_turn():
    """A chain's stream: lane 0, 1, 2, 3, 0, 1, … of four xoshiro256** generators, whatever the
    chunking of the reads (buffer kept between calls)."""
    seeds = np.arange(1, 17, dtype=np.uint64).reshape(1, 16)
    seeds[0, 3] = 0xFFFFFFFFFFFFFFFF
    g = cb_module._kernels.seed_generators(seeds)[0]
    lanes = [xoshiro_python([seeds[0, 4 * w + lane] for w in range(4)], 30) for lane in range(4)]
    expected = [lanes[k % 4][k // 4] for k in range(120)]
    got = []
    for n in (1, 2, 33, 7, 0, 64, 13):  # odd chunks through the buffer and whole steps
        got += [int(x) for x in cb_module._kernels.raw_outputs(g, n)]
    assert got == expected


def test_make_rng_spawns_one_seedsequence_child_per_chain(cy):
    rng = cy.make_rng(np.random.SeedSequence(123), 5)
    children = np.random.SeedSequence(123).spawn(5)
    expected = np.array([c.generate_state(16, dtype=np.uint64) for c in children])
    np.testing.assert_array_equal(rng.state[:, :16], expected)
    assert len({tuple(row) for row in rng.state}) == 5


def test_uniforms_are_uniform_and_independent_between_chains(cy):
    u = cy.make_rng(np.random.SeedSequence(7), 4).uniforms(50_000)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert np.all(np.abs(u.mean(axis=1) - 0.5) < Z_MAX * np.sqrt(1 / 12 / u.shape[1]))
    corr = np.corrcoef(u)[np.triu_indices(4, 1)]
    assert np.all(np.abs(corr) < Z_MAX / np.sqrt(u.shape[1]))


def test_integer_thresholds_equal_float_comparison():
    p = np.array([0.0, 1e-300, 0.3, 0.5, 1 - 2**-53, 1.0, 3.7])
    T = cb_module._kernels.thresholds53(p)
    k = np.random.default_rng(0).integers(0, 2**53, size=20_000, dtype=np.uint64)
    k = np.concatenate([k, T[T < 2**53], np.maximum(T[T > 0], 1) - 1])
    u = k.astype(np.float64) * 2.0**-53
    np.testing.assert_array_equal(k[:, None] < T[None, :], u[:, None] < p[None, :])


def compiled_builds():
    """Every compiled build of the kernels this CPU can run: baseline, and the AVX2 + FMA build."""
    from inverse_ising.backends import _kernels
    builds = [_kernels]
    if cb_module.cpu_has_avx2():
        from inverse_ising.backends import _kernels_avx2
        builds.append(_kernels_avx2)
    return builds


@pytest.mark.parametrize("build", compiled_builds(), ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_kernel_exp_is_the_reference_exp_bit_for_bit(build):
    """The kernels' exp and :func:`inverse_ising.reference.exp` are the same operations: equal bits
    over the whole range, at the cut-offs and for special values, whatever exp numpy would use, in
    every build (the AVX2 build may fuse multiply-adds elsewhere, never here)."""
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.uniform(-710, 711, 200_000), rng.uniform(-1, 1, 200_000), np.arange(-2600, 2600) / 64,
                        [0.0, -0.0, -708.0, np.nextafter(-708.0, -1000), 709.0, np.nextafter(709.0, 1000),
                         np.inf, -np.inf, 1e-300, -1e-300]])
    np.testing.assert_array_equal(build.portable_exp(x).view(np.uint64), REF_EXP(x).view(np.uint64))
    assert np.isnan(build.portable_exp(np.array([np.nan]))[0])


def test_reference_exp_is_within_one_ulp_of_libm():
    x = np.random.default_rng(6).uniform(-708, 709, 100_000)
    libm = np.array([math.exp(v) for v in x])
    assert np.max(np.abs(REF_EXP(x) - libm) / np.spacing(libm)) <= 1.0


@pytest.mark.parametrize("metropolis", [True, False])
def test_bracketed_acceptance_equals_direct_comparison(metropolis):
    """The table brackets must never change a decision: random arguments over the whole range,
    and uniforms placed exactly at, just below and just above the acceptance probability."""
    rng = np.random.default_rng(0 if metropolis else 1)
    x = np.concatenate([rng.uniform(-45, 45, 100_000), rng.uniform(-1, 1, 100_000), np.arange(-1300, 1300) / 32,
                        [0.0, -0.0, 10.0, -10.0, 40.0, -40.0, 1e-300, -1e-300, 700.0, -800.0]])
    p = REF_EXP(x) if metropolis else p_up(x)
    u = np.concatenate([rng.random(x.size), p, np.nextafter(p, 0), np.nextafter(p, 1)])
    u = np.minimum(u, 1 - 2**-53)  # uniforms lie in [0, 1)
    x = np.tile(x, 4)
    p = np.tile(p, 4)
    np.testing.assert_array_equal(cb_module._kernels.accept_tests(u, x, metropolis), u < p)


# ------------------------------------------------------------------- same randomness, same states
@pytest.mark.parametrize("boundary", ["periodic", "open"])
@pytest.mark.parametrize("rule", ["metropolis", "glauber"])
@pytest.mark.parametrize("L", [2, 4, 6, 10])
def test_lattice_same_uniforms_same_states(cy, boundary, rule, L):
    rng = np.random.default_rng(L)
    spins = random_spins((3, L, L), rng)
    u = rng.random((7, 3, L, L))
    a, b = spins.copy(), spins.copy()
    REF.lattice_sweeps(a, 0.37, 0.11, boundary, rule, 7, uniforms=u)
    cy.lattice_sweeps(b, 0.37, 0.11, boundary, rule, 7, uniforms=u)
    np.testing.assert_array_equal(a, b)
    assert (a != spins).any()


def test_lattice_non_contiguous_spins_are_written_back(cy):
    rng = np.random.default_rng(1)
    big = random_spins((4, 8, 8), rng)
    u = rng.random((3, 2, 8, 8))
    a = big[::2].copy()
    REF.lattice_sweeps(a, 0.3, 0.0, "periodic", "metropolis", 3, uniforms=u)
    cy.lattice_sweeps(big[::2], 0.3, 0.0, "periodic", "metropolis", 3, uniforms=u)
    np.testing.assert_array_equal(big[::2], a)


@pytest.mark.parametrize("rule", ["metropolis", "glauber"])
@pytest.mark.parametrize("N", [1, 5, 16, 17, 37, 70])
@pytest.mark.parametrize("dyadic", [False, True])
def test_pairwise_same_uniforms_same_states(cy, rule, N, dyadic):
    rng = np.random.default_rng(N)
    h, J = random_pairwise(N, rng, scale=1.5, dyadic=dyadic)
    spins = random_spins((5, N), rng)
    u = rng.random((6, 5, N))
    a, b = spins.copy(), spins.copy()
    REF.pairwise_sweeps(a, h, J, rule, 6, uniforms=u)
    cy.pairwise_sweeps(b, h, J, rule, 6, uniforms=u)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("rule", ["metropolis", "glauber"])
def test_pairwise_float32_same_states_when_parameters_are_exact(rule):
    """Dyadic parameters are exact in float32, so the float32 kernel makes the same decisions."""
    rng = np.random.default_rng(3)
    h, J = random_pairwise(33, rng, dyadic=True)
    spins = random_spins((4, 33), rng)
    u = rng.random((5, 4, 33))
    a, b = spins.copy(), spins.copy()
    REF.pairwise_sweeps(a, h, J, rule, 5, uniforms=u)
    CythonBackend(dtype=np.float32).pairwise_sweeps(b, h, J, rule, 5, uniforms=u)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("N", [1, 7, 40])
def test_kinetic_same_uniforms_same_states(cy, N):
    rng = np.random.default_rng(N)
    J = rng.normal(0.0, 1.0 / np.sqrt(N), size=(N, N))  # asymmetric
    h = rng.normal(0.0, 0.3, size=N)
    spins = random_spins((3, N), rng)
    n = 2 * cb_module.KINETIC_REFRESH + 5  # incremental updates and refreshes of the fields
    u = rng.random((n, 3, N))
    a, b = spins.copy(), spins.copy()
    out_a, out_b = np.empty((n, 3, N), np.int8), np.empty((n, 3, N), np.int8)
    REF.kinetic_steps(a, h, J, n, uniforms=u, out=out_a)
    cy.kinetic_steps(b, h, J, n, uniforms=u, out=out_b)
    np.testing.assert_array_equal(out_a, out_b)
    np.testing.assert_array_equal(a, b)


def test_sufficient_statistics_equal_reference(cy, monkeypatch):
    rng = np.random.default_rng(5)
    S = random_spins((1000, 23), rng)
    monkeypatch.setattr(cb_module, "STATS_BATCH", 64)  # several BLAS batches
    s1, ss1 = cy.sufficient_statistics(S)
    s0, ss0 = REF.sufficient_statistics(S)
    np.testing.assert_array_equal(s1, s0)
    np.testing.assert_array_equal(ss1, ss0)
    assert s1.dtype == ss1.dtype == np.float64


# ------------------------------------------------------------------------- cached local fields
def test_pairwise_cached_fields_follow_changes_of_J_and_spins():
    """Fields cached between calls must be recomputed when J (in place) or the spins change:
    the run must equal one whose fields are recomputed every sweep (dyadic J: exact sums)."""
    rng = np.random.default_rng(11)
    h, J = random_pairwise(24, rng, dyadic=True)
    runs = []
    for refresh in (None, 1):
        b = CythonBackend(pairwise_refresh=refresh)
        Jw, spins = J.copy(), random_spins((6, 24), np.random.default_rng(2))
        g = b.make_rng(np.random.SeedSequence(9), 6)
        states = []
        for step in range(6):
            b.pairwise_sweeps(spins, h, Jw, "metropolis", 2, g)
            states.append(spins.copy())
            if step == 2:
                Jw *= -1.0  # in place: an antiferromagnet now
            if step == 4:
                spins[:, :5] = 1  # the driver reset some spins
        runs.append(np.array(states))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_sweeps_in_one_call_equal_sweeps_in_many_calls(cy):
    rng = np.random.default_rng(4)
    h, J = random_pairwise(30, rng, dyadic=True)
    s0 = random_spins((8, 30), rng)
    a, b = s0.copy(), s0.copy()
    ga, gb = cy.make_rng(np.random.SeedSequence(1), 8), cy.make_rng(np.random.SeedSequence(1), 8)
    cy.pairwise_sweeps(a, h, J, "glauber", 10, ga)
    for _ in range(10):
        cy.pairwise_sweeps(b, h, J, "glauber", 1, gb)
    np.testing.assert_array_equal(a, b)
    la, lb = random_spins((3, 6, 6), rng), None
    lb = la.copy()
    ga, gb = cy.make_rng(np.random.SeedSequence(2), 3), cy.make_rng(np.random.SeedSequence(2), 3)
    cy.lattice_sweeps(la, 0.4, 0.1, "open", "metropolis", 6, ga)
    for _ in range(6):
        cy.lattice_sweeps(lb, 0.4, 0.1, "open", "metropolis", 1, gb)
    np.testing.assert_array_equal(la, lb)


# ------------------------------------------------------------------------- reproducibility
def _all_samplers(backend, seed):
    lat = ii.sample(ii.LatticeIsing(8, 0.44, 0.05), 300, backend=backend, seed=seed, n_chains=30, burn_in=20, thin=2)
    rng = np.random.default_rng(0)
    h, J = random_pairwise(20, rng)
    pw = ii.sample(ii.PairwiseIsing(h, J), 300, rule="glauber", backend=backend, seed=seed, n_chains=30,
                   burn_in=20, thin=2)
    kin = ii.simulate(ii.KineticIsing(h, rng.normal(0, 0.3, (20, 20))), 500, seed=seed, n_trials=4, backend=backend)
    return lat, pw, kin


def test_same_seed_same_output_any_thread_count():
    one, two = CythonBackend(n_threads=1), CythonBackend(n_threads=2)
    first = _all_samplers(one, 42)
    for other in (_all_samplers(one, 42), _all_samplers(two, 42)):
        for x, y in zip(first, other):
            np.testing.assert_array_equal(x, y)
    different = _all_samplers(two, 43)
    assert all((x != y).any() for x, y in zip(first, different))


def test_thread_count_does_not_change_large_runs():
    """Enough work per call that two threads really run (static schedule over chains)."""
    rng = np.random.default_rng(8)
    h, J = random_pairwise(64, rng)
    outs = []
    for threads in (1, 2, 3):
        b = CythonBackend(n_threads=threads)
        spins = random_spins((50, 64), np.random.default_rng(1))
        b.pairwise_sweeps(spins, h, J, "metropolis", 20, b.make_rng(np.random.SeedSequence(5), 50))
        grid = random_spins((6, 32, 32), np.random.default_rng(1))
        b.lattice_sweeps(grid, 0.44, 0.0, "periodic", "glauber", 20, b.make_rng(np.random.SeedSequence(5), 6))
        outs.append((spins, grid))
    for spins, grid in outs[1:]:
        np.testing.assert_array_equal(spins, outs[0][0])
        np.testing.assert_array_equal(grid, outs[0][1])


@pytest.mark.skipif(not cb_module.cpu_has_avx2(), reason="needs an AVX2 CPU")
def test_avx2_build_gives_the_same_output_as_the_portable_build(monkeypatch):
    base = cb_module.load_kernels("baseline")
    avx2 = cb_module.load_kernels("avx2")
    assert base is not avx2
    results = []
    for module in (base, avx2):
        monkeypatch.setattr(cb_module, "_kernels", module)
        results.append(_all_samplers(CythonBackend(), 7))
    for x, y in zip(*results):
        np.testing.assert_array_equal(x, y)


def test_auto_and_sample_use_the_cython_backend():
    assert get_backend("auto").name == "cython"
    X = ii.sample(ii.LatticeIsing(6, 0.3), 50, backend="cython", seed=1, burn_in=5, thin=1)
    assert X.shape == (50, 36) and X.dtype == np.int8 and set(np.unique(X)) <= {-1, 1}


def test_bad_calls_fail_clearly(cy):
    spins = np.ones((2, 4, 4), np.int8)
    with pytest.raises(InputError, match="generator"):
        cy.lattice_sweeps(spins, 0.3, 0.0, "periodic", "metropolis", 1)
    with pytest.raises(InputError, match="chains"):
        cy.lattice_sweeps(spins, 0.3, 0.0, "periodic", "metropolis", 1, cy.make_rng(np.random.SeedSequence(0), 1))
    with pytest.raises(InputError, match="even L"):
        cy.lattice_sweeps(np.ones((1, 5, 5), np.int8), 0.3, 0.0, "open", "metropolis", 1,
                          cy.make_rng(np.random.SeedSequence(0), 1))
    with pytest.raises(InputError, match="rule"):
        cy.pairwise_sweeps(np.ones((1, 3), np.int8), np.zeros(3), np.zeros((3, 3)), "gibbs", 1)
    with pytest.raises(InputError, match="uniforms"):
        cy.pairwise_sweeps(np.ones((1, 3), np.int8), np.zeros(3), np.zeros((3, 3)), "glauber", 2,
                           uniforms=np.zeros((1, 1, 3)))
    with pytest.raises(InputError, match="symmetric"):
        cy.pairwise_sweeps(np.ones((1, 3), np.int8), np.zeros(3), np.triu(np.ones((3, 3)), 1), "glauber", 1,
                           cy.make_rng(np.random.SeedSequence(0), 1))
    with pytest.raises(InputError, match="int8"):
        cy.pairwise_sweeps(np.ones((1, 3)), np.zeros(3), np.zeros((3, 3)), "glauber", 1,
                           cy.make_rng(np.random.SeedSequence(0), 1))


# ------------------------------------------------------------------------- statistics vs exact
def _z(estimate, error, exact):
    return abs(estimate - exact) / error


@pytest.mark.parametrize("rule", ["metropolis", "glauber"])
@pytest.mark.parametrize("boundary,J,h", [("periodic", 0.35, 0.0), ("open", 0.5, 0.1)])
def test_lattice_statistics_match_exact(cy, rule, boundary, J, h):
    model = ii.LatticeIsing(4, J, h, boundary)
    exact = exact_solve(model)
    T, C = 3000, 32
    X = ii.sample(model, T * C, rule=rule, backend=cy, seed=17, n_chains=C, burn_in=100, thin=1)
    X = X.reshape(T, C, 16)
    energy = model.energy(X.reshape(-1, 16)).reshape(T, C) / 16
    abs_m = np.abs(X.mean(axis=2, dtype=np.float64))
    for series, value in ((energy, exact.energy), (abs_m, exact.abs_m)):
        mean, err = mean_and_error(series)
        assert _z(mean, err, value) < Z_MAX, (mean, err, value)


@pytest.mark.parametrize("rule", ["metropolis", "glauber"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pairwise_statistics_match_exact(rule, dtype):
    rng = np.random.default_rng(21)
    h, J = random_pairwise(10, rng, scale=1.0)
    model = ii.PairwiseIsing(h, J)
    exact = exact_solve(model)
    T, C = 3000, 32
    X = ii.sample(model, T * C, rule=rule, backend=CythonBackend(dtype=dtype), seed=5, n_chains=C, burn_in=100, thin=1)
    X = X.reshape(T, C, 10).astype(np.float64)
    iu = np.triu_indices(10, 1)
    z = [_z(*mean_and_error(X[:, :, i]), exact.mean[i]) for i in range(10)]
    pairs = X[:, :, iu[0]] * X[:, :, iu[1]]
    z += [_z(*mean_and_error(pairs[:, :, k]), exact.second_moment[iu][k]) for k in range(pairs.shape[2])]
    assert max(z) < Z_MAX, max(z)


def test_kinetic_transitions_follow_glauber_probabilities(cy):
    """E[sᵢ(t+1) | s(t)] = tanh Hᵢ(t): the residuals sᵢ(t+1) − tanh Hᵢ(t) are martingale
    differences, uncorrelated in time, with mean 0."""
    rng = np.random.default_rng(9)
    N, T = 12, 40_000
    h, J = rng.normal(0, 0.3, N), rng.normal(0, 0.6, (N, N))
    S = ii.simulate(ii.KineticIsing(h, J), T, seed=2, backend=cy).astype(np.float64)
    H = h + S[:-1] @ J.T
    resid = S[1:] - np.tanh(H)
    z = np.abs(resid.mean(axis=0)) / (resid.std(axis=0) / np.sqrt(T - 1))
    assert z.max() < Z_MAX, z


# ------------------------------------------------------------------------- multi-spin coding
def test_msc_pack_unpack_round_trip():
    spins = random_spins((128, 6, 6), np.random.default_rng(0))
    words = cb_module.msc_pack(spins)
    assert words.shape == (2, 6, 6) and words.dtype == np.uint64
    np.testing.assert_array_equal(cb_module.msc_unpack(words), spins)
    assert int(words[1, 0, 0] >> np.uint64(5)) & 1 == (spins[64 + 5, 0, 0] > 0)


@pytest.mark.parametrize("rule", ["metropolis", "glauber"])
def test_msc_tables_need_at_most_five_groups(rule):
    """The kernel keeps at most five threshold groups in selector tables (msc.h): the counting that
    ``msc_tables`` picks must never leave more, whatever the signs and sizes of J and h."""
    for J in (-1.0, -0.3, 0.0, 0.1, 0.44, 2.0):
        for h in (-3.0, -0.5, 0.0, 0.05, 0.3, 0.9, 5.0):
            _, cls_list, gbits = cb_module.msc_tables(J, h, rule)
            assert gbits.shape[0] <= 5 and (cls_list[:, 2] >= 0).sum() <= 5, (J, h, cls_list)


@pytest.mark.parametrize("rule", ["metropolis", "glauber"])
@pytest.mark.parametrize("h", [0.1, 0.0])
def test_msc_replicas_match_exact(cy, rule, h):
    """Every replica of every word samples the 4×4 torus: energy and |m| vs enumeration (at h = 0
    both spins of a class share a threshold, one table row, see ``msc_tables``)."""
    model = ii.LatticeIsing(4, 0.35, h)
    exact = exact_solve(model)
    words = cb_module.msc_pack(random_spins((128, 4, 4), np.random.default_rng(1)))
    g = cy.make_rng(np.random.SeedSequence(3), 2)
    cy.msc_sweeps(words, model.J, model.h, rule, 50, g)
    energy, abs_m = [], []
    for _ in range(1500):
        cy.msc_sweeps(words, model.J, model.h, rule, 1, g)
        X = cb_module.msc_unpack(words).reshape(128, 16)
        energy.append(model.energy(X) / 16)
        abs_m.append(np.abs(X.mean(axis=1)))
    for series, value in ((np.array(energy), exact.energy), (np.array(abs_m), exact.abs_m)):
        mean, err = mean_and_error(series)
        assert _z(mean, err, value) < Z_MAX, (mean, err, value)


@pytest.mark.parametrize("rule", ["metropolis", "glauber"])
def test_msc_16x16_energy_against_kaufman(cy, rule):
    """At L = 16 the kernel's full groups of eight sites run (the 4×4 test only has the partial
    one): the energy per spin of 128 replicas at K = 0.4 against Kaufman's exact value."""
    words = cb_module.msc_pack(random_spins((128, 16, 16), np.random.default_rng(5)))
    g = cy.make_rng(np.random.SeedSequence(6), 2)
    model = ii.LatticeIsing(16, 0.4, 0.0)
    cy.msc_sweeps(words, model.J, 0.0, rule, 200, g)
    energy = []
    for _ in range(400):
        cy.msc_sweeps(words, model.J, 0.0, rule, 1, g)
        energy.append(-model.bond_sum(cb_module.msc_unpack(words).reshape(128, -1)) / 256)  # u in units of J
    mean, err = mean_and_error(np.array(energy))
    assert _z(mean, err, kaufman_energy(16, 0.4)) < Z_MAX, (mean, err, kaufman_energy(16, 0.4))


def test_msc_replicas_are_not_correlated(cy):
    """All 64 replicas start from the same state.  Replicas that shared random numbers would stay
    identical; honest independent chains forget the common start: at h = 0 the mean overlap
    q = (1/N) Σᵢ sᵢᵃsᵢᵇ over pairs a ≠ b must vanish, and replica magnetisations must be uncorrelated."""
    L, T = 8, 1500
    start = random_spins((1, L, L), np.random.default_rng(2))
    words = cb_module.msc_pack(np.repeat(start, 64, axis=0))
    g = cy.make_rng(np.random.SeedSequence(4), 1)
    cy.msc_sweeps(words, 0.25, 0.0, "metropolis", 20, g)
    q, m = [], []
    for _ in range(T):
        cy.msc_sweeps(words, 0.25, 0.0, "metropolis", 1, g)
        X = cb_module.msc_unpack(words).reshape(64, -1).astype(np.float64)
        total = X.sum(axis=0)
        q.append(((total**2).sum() - 64 * X.shape[1]) / (64 * 63 * X.shape[1]))
        m.append(X.mean(axis=1))
    mean, err = mean_and_error(np.array(q))
    assert abs(mean) < Z_MAX * err, (mean, err)
    corr = np.corrcoef(np.array(m).T)[np.triu_indices(64, 1)]
    # 2016 pair correlations of nearly independent series: spread ≈ 1/√T, none far out
    assert abs(corr.mean()) < 0.01 and np.abs(corr).max() < 6 / np.sqrt(T), (corr.mean(), np.abs(corr).max())


def test_msc_reproducible_across_threads():
    outs = []
    for threads in (1, 2):
        b = CythonBackend(n_threads=threads)
        words = cb_module.msc_pack(random_spins((256, 16, 16), np.random.default_rng(3)))
        b.msc_sweeps(words, 0.44, 0.0, "glauber", 10, b.make_rng(np.random.SeedSequence(8), 4))
        outs.append(words)
    np.testing.assert_array_equal(outs[0], outs[1])


@pytest.mark.parametrize("rule", ["metropolis", "glauber"])
def test_msc_stream_does_not_depend_on_the_calls(cy, rule):
    """The kernel generates ARS-5 words ahead of use into a buffer and advances the counter by the
    words it used: 3 sweeps in one call and 1 + 2 in two calls give the same spins and state."""
    start = cb_module.msc_pack(random_spins((128, 64, 64), np.random.default_rng(9)))
    runs = []
    for split in ((3,), (1, 2)):
        words, g = start.copy(), cy.make_rng(np.random.SeedSequence(10), 2)
        for n in split:
            cy.msc_sweeps(words, 0.44, 0.0, rule, n, g)
        runs.append((words, g.state.copy()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert not np.array_equal(runs[0][0], start)


# ------------------------------------------------------------------------- Wolff
@pytest.mark.parametrize("boundary,J", [("periodic", 0.44), ("open", 0.5)])
def test_wolff_matches_exact(cy, boundary, J):
    model = ii.LatticeIsing(4, J, 0.0, boundary)
    exact = exact_solve(model)
    C = 32
    spins = random_spins((C, 4, 4), np.random.default_rng(0))
    g = cy.make_rng(np.random.SeedSequence(1), C)
    cy.wolff_updates(spins, J, boundary, 50, g)
    energy, abs_m = [], []
    for _ in range(2500):
        sizes = cy.wolff_updates(spins, J, boundary, 1, g)
        X = spins.reshape(C, 16)
        energy.append(model.energy(X) / 16)
        abs_m.append(np.abs(X.mean(axis=1)))
    assert sizes.min() >= 1 and sizes.max() <= 16
    for series, value in ((np.array(energy), exact.energy), (np.array(abs_m), exact.abs_m)):
        mean, err = mean_and_error(series)
        assert _z(mean, err, value) < Z_MAX, (mean, err, value)


def test_wolff_cluster_limits_and_errors(cy):
    spins = np.ones((2, 8, 8), np.int8)
    g = cy.make_rng(np.random.SeedSequence(0), 2)
    assert (cy.wolff_updates(spins, 0.0, "periodic", 5, g) == 1).all()  # p_add = 0: single spins
    spins[...] = 1
    sizes = cy.wolff_updates(spins, 50.0, "periodic", 1, g)  # p_add = 1: the whole aligned lattice
    assert (sizes == 64).all() and (spins == -1).all()
    with pytest.raises(InputError, match="J ≥ 0"):
        cy.wolff_updates(spins, -0.3, "periodic", 1, g)
