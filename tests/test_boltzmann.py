"""Boltzmann learning of pairwise models (inverse_ising.boltzmann through inverse_ising.fit).

The statistical tests use fixed seeds and the numpy reference backend unless they test the
defaults; every assertion is one that a wrong learner fails (see the comments for the scale).
"""
import warnings

import numpy as np
import pytest

import inverse_ising as ii
from inverse_ising.boltzmann import (
    PairwiseTargets, boltzmann_pairwise, centred_variances, rao_blackwell_sums)
from inverse_ising.errors import FitDivergedError, InputError
from inverse_ising.exact import exact_mle, exact_sample, exact_solve
from inverse_ising.fit import fit, load_fit


def random_pairwise(N, scale, seed, h_sd=0.3):
    rng = np.random.default_rng(seed)
    J = np.triu(rng.normal(0.0, scale / np.sqrt(N), size=(N, N)), 1)
    return ii.PairwiseIsing(rng.normal(0.0, h_sd, size=N), J + J.T)


def exact_z(model, X):
    """z of every plain moment ⟨sᵢ⟩, ⟨sᵢsⱼ⟩ of the data against the model's exact moments."""
    M, N = X.shape
    iu = np.triu_indices(N, 1)
    S = X.astype(float)
    mean, second = S.mean(axis=0), S.T @ S / M
    sol = exact_solve(model)
    z1 = (mean - sol.mean) / np.sqrt((1 - mean ** 2) / M)
    z2 = (second[iu] - sol.second_moment[iu]) / np.sqrt((1 - second[iu] ** 2) / M)
    return np.concatenate([z1, z2])


def rmse(J, J_true):
    iu = np.triu_indices(J.shape[0], 1)
    return float(np.sqrt(np.mean((J[iu] - J_true[iu]) ** 2)))


@pytest.fixture(scope="module")
def small_data():
    model = random_pairwise(6, 1.0, seed=0)
    return model, exact_sample(model, 4000, seed=1)


# ---------------------------------------------------------------------------------------------
# building blocks
# ---------------------------------------------------------------------------------------------

def test_centred_variances_match_a_direct_computation():
    rng = np.random.default_rng(0)
    S = np.where(rng.random((50000, 4)) < [0.05, 0.1, 0.5, 0.03], 1, -1).astype(float)
    S[:, 3] = np.where(rng.random(50000) < 0.5, S[:, 0], S[:, 3])
    m, second = S.mean(axis=0), S.T @ S / len(S)
    c = m + np.array([0.01, -0.02, 0.0, 0.005])
    v1, v2 = centred_variances(m, second, c)
    phi = (S[:, :, None] - c[None, :, None]) * (S[:, None, :] - c[None, None, :])
    assert np.allclose(v2, phi.var(axis=0), rtol=1e-9, atol=1e-12)
    assert np.allclose(v1, (S - c).var(axis=0))


def test_rao_blackwell_moments_are_unbiased():
    model = random_pairwise(5, 1.0, seed=3)
    sol = exact_solve(model)
    S = exact_sample(model, 200000, seed=4)
    s, ss = rao_blackwell_sums(S, model.h, model.J)
    iu = np.triu_indices(5, 1)
    # standard errors of the plain estimators bound those of the conditional ones
    assert np.all(np.abs(s / len(S) - sol.mean) < 4 * np.sqrt(1 / len(S)))
    assert np.all(np.abs(ss[iu] / len(S) - sol.second_moment[iu]) < 4 * np.sqrt(1 / len(S)))
    assert np.allclose(np.diag(ss), len(S))


def test_targets_standard_errors(small_data):
    _, X = small_data
    t = PairwiseTargets(X)
    M = X.shape[0]
    assert np.allclose(t.se_raw[:6], np.sqrt((1 - X.mean(axis=0) ** 2) / M))
    assert np.allclose(t.centred[:6], 0.0)


# ---------------------------------------------------------------------------------------------
# must show: N = 20, 50 000 exact samples
# ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_n20_boltzmann_and_pseudolikelihood_reach_the_exact_mle():
    truth = random_pairwise(20, 1.0, seed=1)
    X = exact_sample(truth, 50000, seed=2)
    boltz = fit(X, method="boltzmann", backend="numpy", seed=3, progress=False)
    pl = fit(X, method="pseudolikelihood")
    mle = exact_mle(X, init=pl.model, tol=1e-5)  # within 3e-5 of the full-precision optimum
    floor = rmse(mle.J, truth.J)
    assert boltz.converged and boltz.noise <= 0.5
    assert rmse(boltz.J, truth.J) <= 1.10 * floor
    assert rmse(pl.J, truth.J) <= 1.10 * floor
    # The fitted model reproduces the data's moments at the data's noise level, as the stopping
    # rule promises: exact systematic mean square z at most ~0.1, and no exact |z| beyond what the
    # rule's allowance for the model sample's own noise admits.  For scale: a model as far from
    # the data as the truth has mean z² ≈ 1 and max |z| ≈ 3 over 210 moments.
    z = exact_z(boltz.model, X)
    allowance = np.sqrt(1.0 + 2 * np.log(2 * 2 * z.size) * boltz.noise ** 2)
    assert np.max(np.abs(z)) <= allowance and np.mean(z ** 2) <= 0.15
    z_pl = exact_z(pl.model, X)
    assert np.max(np.abs(z_pl)) <= 2.0 and np.mean(z_pl ** 2) <= 0.5
    # standard errors from the inverse Fisher information describe the distance to the truth
    ratio = (boltz.J - truth.J)[np.triu_indices(20, 1)] / boltz.se_J[np.triu_indices(20, 1)]
    assert 0.7 <= np.sqrt(np.mean(ratio ** 2)) <= 1.3
    assert "Fisher" in boltz.stderr["method"]


# ---------------------------------------------------------------------------------------------
# must show: sparse, low-activity N = 60 converges from default options
# ---------------------------------------------------------------------------------------------

def sparse_network(N=60, seed=11):
    """Retina-like: 30 % of pairs coupled (sd 0.2), fields tuned to 2.5–9 % activity per bin."""
    rng = np.random.default_rng(seed)
    J = np.triu(rng.normal(0.0, 0.2, size=(N, N)) * (rng.random((N, N)) < 0.3), 1)
    J = J + J.T
    m = 2 * rng.uniform(0.025, 0.09, size=N) - 1
    h = np.arctanh(m) - J @ m
    for r in range(2):  # correct the mean-field fields towards the target activities
        X = ii.sample(ii.PairwiseIsing(h, J), 4000, rule="glauber", backend="numpy", seed=5 + r,
                      n_chains=400, burn_in=100, thin=5)
        act = np.clip((X == 1).mean(axis=0), 0.005, 0.995)
        h = h + 0.8 * (np.arctanh(m) - np.arctanh(2 * act - 1))
    return ii.PairwiseIsing(h, J)


@pytest.mark.slow
def test_sparse_n60_converges_from_defaults():
    truth = sparse_network()
    X = ii.sample(truth, 10000, rule="glauber", backend="numpy", seed=9, n_chains=500, burn_in=200, thin=5)
    activity = (X == 1).mean(axis=0)
    assert 0.02 <= activity.min() and activity.max() <= 0.105
    result = fit(X, seed=4, progress=False)  # every option at its default
    assert result.converged and result.noise <= 0.5
    h = result.history
    assert h["sample_size"][-1] > h["sample_size"][0]  # the sample grew as the fit closed in
    assert np.all(np.isfinite(result.J)) and np.max(np.abs(result.J)) < 10
    # the fit is at least as close to the truth as the pseudo-likelihood start
    pl = fit(X, method="pseudolikelihood")
    assert rmse(result.J, truth.J) <= 1.05 * rmse(pl.J, truth.J)


# ---------------------------------------------------------------------------------------------
# options: optimizers, penalties, starts
# ---------------------------------------------------------------------------------------------

def test_adam_converges(small_data):
    _, X = small_data
    r = fit(X, optimizer="adam", init="independent", backend="numpy", seed=1, progress=False, max_iter=200)
    assert r.converged
    assert np.max(np.abs(exact_z(r.model, X))) <= 1.5


@pytest.mark.filterwarnings("ignore:Boltzmann learning stopped")
def test_course_notes_rule_history_shows_the_step_size(small_data):
    """Fixed α from random parameters: a larger (stable) α closes the gap faster."""
    _, X = small_data
    runs = {}
    for alpha in (0.01, 0.1):
        r = fit(X, optimizer="sgd", learning_rate=alpha, init="random", backend="numpy", seed=2,
                progress=False, max_iter=15)
        assert np.all(r.history["learning_rate"] == alpha)
        runs[alpha] = r.history["msz"]
    assert runs[0.1][-1] < 0.2 * runs[0.01][-1]
    assert runs[0.01][-1] < runs[0.01][0]  # the small step still makes progress


def test_too_large_fixed_step_diverges(small_data):
    _, X = small_data
    with pytest.raises(FitDivergedError, match="learning rate 50 is too large.*smaller learning_rate"):
        fit(X, optimizer="sgd", learning_rate=50.0, init="random", backend="numpy", seed=1, progress=False)


def test_l1_sets_weak_couplings_to_zero():
    model = random_pairwise(8, 0.3, seed=5)
    X = exact_sample(model, 3000, seed=6)
    r = fit(X, l1=0.02, backend="numpy", seed=1, progress=False, init="independent", max_iter=60)
    iu = np.triu_indices(8, 1)
    assert np.sum(r.J[iu] == 0.0) >= 5
    assert r.meta["l1"] == 0.02


def test_starts_and_independent_data(small_data):
    _, X = small_data
    for init in ("mean_field", "tap", "zeros"):
        r = fit(X, init=init, backend="numpy", seed=1, progress=False)
        assert r.converged, init
        assert r.meta["init"] == init
    with pytest.raises(InputError, match="unknown init"):
        fit(X, init="bogus", backend="numpy")
    with pytest.raises(InputError, match="spins but the data have"):
        fit(X, init=ii.PairwiseIsing(np.zeros(3), np.zeros((3, 3))), backend="numpy")


def test_metropolis_and_glauber_agree(small_data):
    _, X = small_data
    a = fit(X, rule="metropolis", backend="numpy", seed=1, progress=False)
    b = fit(X, rule="glauber", backend="numpy", seed=1, progress=False)
    assert a.converged and b.converged
    # both within their standard errors of each other
    assert np.max(np.abs(a.J - b.J) / np.maximum(a.se_J, 1e-12)) < 3.0
    assert a.meta["rule"] == "metropolis" and b.meta["rule"] == "glauber"


def test_same_seed_same_result(small_data):
    _, X = small_data
    a = fit(X, backend="numpy", seed=7, progress=False)
    b = fit(X, backend="numpy", seed=7, progress=False)
    assert np.array_equal(a.J, b.J) and np.array_equal(a.h, b.h)


# ---------------------------------------------------------------------------------------------
# bad input (SPEC §7)
# ---------------------------------------------------------------------------------------------

def test_non_binary_and_nan_are_rejected(small_data):
    _, X = small_data
    bad = X.astype(float)
    bad[3, 2] = 0.5
    with pytest.raises(InputError, match=r"0\.5.*\(3, 2\)"):
        fit(bad, backend="numpy")
    bad[3, 2] = np.nan
    with pytest.raises(InputError, match=r"non-finite.*\(3, 2\)"):
        fit(bad, backend="numpy")
    two = X.copy().astype(np.int64)
    two[0, 0] = 2
    with pytest.raises(InputError, match="found 2"):
        fit(two, method="pseudolikelihood")


def test_too_few_samples_and_shapes():
    with pytest.raises(InputError, match="only 5 samples"):
        fit(np.ones((5, 3)) * np.array([1, -1, 1]), backend="numpy")
    with pytest.raises(InputError, match="2-D"):
        fit(np.ones(20), backend="numpy")
    with pytest.raises(InputError, match="at least 2"):
        fit(np.where(np.arange(30) % 2, 1, -1).reshape(30, 1), backend="numpy")


def test_never_or_always_firing_units_stay_finite_with_a_warning(small_data):
    _, X = small_data
    X = X.copy()
    X[:, 2] = -1  # never fires
    X[:, 4] = 1  # always fires
    with pytest.warns(RuntimeWarning, match=r"unit \[2\] never fires.*unit \[4\] always fires"):
        r = fit(X, backend="numpy", seed=1, progress=False)
    assert r.converged
    assert np.all(np.isfinite(r.h)) and np.all(np.isfinite(r.J))
    M = X.shape[0]
    # the field solves −1 − tanh h − 2 h/M = 0: finite, near −½ ln M
    assert -0.6 * np.log(M) < r.h[2] < -0.4 * np.log(M) and r.h[4] == pytest.approx(-r.h[2])
    assert np.all(r.J[2] == 0) and np.all(r.J[:, 4] == 0)
    with pytest.raises(InputError, match="pass l2 > 0"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit(X, l2=0.0, backend="numpy")


def test_bad_options():
    X = exact_sample(random_pairwise(4, 0.5, seed=1), 500, seed=1)
    with pytest.raises(InputError, match="unknown optimizer"):
        fit(X, optimizer="newton", backend="numpy")
    with pytest.raises(InputError, match="learning_rate must be positive"):
        fit(X, learning_rate=-1, backend="numpy")
    with pytest.raises(InputError, match="unknown option.*n_walkers"):
        fit(X, n_walkers=3)
    with pytest.raises(InputError, match="unknown update rule"):
        fit(X, rule="wolff", backend="numpy")
    with pytest.raises(InputError, match="unknown backend"):
        fit(X, backend="gpu")
    with pytest.raises(InputError, match="l2 and l1 must be >= 0"):
        fit(X, l2=-1, backend="numpy")


def test_not_converging_warns_and_reports(small_data):
    _, X = small_data
    with pytest.warns(RuntimeWarning, match="without converging"):
        r = fit(X, init="zeros", backend="numpy", seed=1, progress=False, max_iter=2)
    assert r.converged is False and r.iterations == 2
    assert len(r.history["max_z"]) == 2


# ---------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------

class _Interrupt:
    """Raise KeyboardInterrupt at the k-th measurement (a user pressing Ctrl-C)."""

    def __init__(self, monkeypatch, k):
        from inverse_ising import boltzmann

        original = boltzmann._PairwiseProblem.measure
        calls = {"n": 0}

        def measure(problem, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] == k:
                raise KeyboardInterrupt
            return original(problem, *args, **kwargs)

        monkeypatch.setattr(boltzmann._PairwiseProblem, "measure", measure)
        self.undo = lambda: monkeypatch.setattr(boltzmann._PairwiseProblem, "measure", original)


def test_checkpoint_resume_gives_the_uninterrupted_result(tmp_path, monkeypatch):
    model = random_pairwise(8, 1.0, seed=3)
    X = exact_sample(model, 20000, seed=4)
    opts = dict(init="independent", backend="numpy", seed=5, progress=False, checkpoint_every=2)
    full = fit(X, **opts)
    assert full.iterations >= 6
    ckpt = tmp_path / "run.ckpt.npz"
    stop = _Interrupt(monkeypatch, 6)
    with pytest.raises(KeyboardInterrupt):
        fit(X, checkpoint=ckpt, **opts)
    stop.undo()
    assert ckpt.exists()
    with pytest.raises(InputError, match="already exists.*resume"):
        fit(X, checkpoint=ckpt, **opts)
    resumed = fit(X, checkpoint=ckpt, resume=True, **opts)
    assert resumed.iterations == full.iterations
    assert np.array_equal(resumed.J, full.J) and np.array_equal(resumed.h, full.h)
    for key in ("max_z", "sample_size", "learning_rate"):
        assert np.array_equal(resumed.history[key], full.history[key])
    # a checkpoint of other data is refused
    other = X.copy()
    other[0] = -other[0]
    with pytest.raises(InputError, match="different data"):
        fit(other, checkpoint=ckpt, resume=True, **opts)
    with pytest.raises(InputError, match="optimizer='natural', not 'adam'|made with optimizer"):
        fit(X, checkpoint=ckpt, resume=True, **dict(opts, optimizer="adam"))
    # force starts over
    again = fit(X, checkpoint=ckpt, force=True, **opts)
    assert np.array_equal(again.J, full.J)


def test_resume_without_checkpoint_starts_fresh(tmp_path, small_data):
    _, X = small_data
    with pytest.warns(RuntimeWarning, match="starting a new fit"):
        r = fit(X, checkpoint=tmp_path / "none.npz", resume=True, backend="numpy", seed=1, progress=False)
    assert r.converged
    with pytest.raises(InputError, match="needs checkpoint"):
        boltzmann_pairwise(X, resume=True, backend="numpy")


def test_saved_fit_round_trip(tmp_path, small_data):
    _, X = small_data
    r = fit(X, backend="numpy", seed=1, progress=False)
    path = tmp_path / "fit.npz"
    r.save(path)
    with pytest.raises(InputError, match="already exists"):
        r.save(path)
    back = load_fit(path)
    assert back.method == "boltzmann" and back.converged is True
    assert np.array_equal(back.J, r.J) and np.array_equal(back.se_J, r.se_J)
    assert back.iterations == r.iterations and back.max_z == pytest.approx(r.max_z)
    assert set(r.history) <= set(back.history)
    for key in ("method", "backend", "seed", "iterations", "converged", "package_version"):
        assert key in back.meta
    assert back.meta["backend"] == "numpy" and back.meta["seed"] == 1
    model, meta, history = ii.load_model(path)  # the plain SPEC §5 reader understands it
    assert model.kind == "pairwise" and "max_z" in history
