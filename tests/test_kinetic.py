"""Kinetic Ising inference (inverse_ising.kinetic), temporal statistics and the fit-kinetic CLI.

Synthetic data come from known models simulated with ``ii.simulate`` (numpy backend, fixed
seeds), so every number below is reproducible. Plain-numpy reference computations (explicit
lists of transitions, explicit pair sums) are written out here, independently of the package.
"""
import json
import warnings

import numpy as np
import pytest

import inverse_ising as ii
from inverse_ising import cli
from inverse_ising.errors import InputError
from inverse_ising.io import load_model
from inverse_ising.kinetic import (
    KineticFit, _solve_tap_F, fit_kinetic, kinetic_log_likelihood, mean_field_couplings,
)
from inverse_ising.models import KineticIsing
from inverse_ising.temporal import (
    as_trials, autocorrelations, delayed_correlations, equal_time_correlations, means,
)

N = 50
G = 0.3            # moderate coupling: J_ij ~ N(0, G²/N)
T_SHORT = 40_000
T_LONG = 4 * T_SHORT


def random_kinetic(n, g, seed, h_sd=0.1, symmetric=False):
    rng = np.random.default_rng(seed)
    J = rng.normal(0.0, g / np.sqrt(n), size=(n, n))
    if symmetric:
        J = np.triu(J, 1) + np.triu(J, 1).T
    np.fill_diagonal(J, 0.0)
    return KineticIsing(rng.normal(0.0, h_sd, size=n), J)


def simulate(model, n_steps, seed, n_trials=None):
    return ii.simulate(model, n_steps, seed=seed, n_trials=n_trials, backend="numpy", progress=False)


def rmse_offdiag(A, B):
    off = ~np.eye(A.shape[0], dtype=bool)
    return float(np.sqrt(np.mean((A - B)[off] ** 2)))


def pairs(trials):
    """Explicit (x(t), y(t) = s(t+1)) float arrays over the transitions inside each trial."""
    X = np.concatenate([tr[:-1] for tr in trials]).astype(float)
    Y = np.concatenate([tr[1:] for tr in trials]).astype(float)
    return X, Y


def penalised_gradient(h, J, X, Y, l2, self_couplings=False):
    """∂/∂(h, J) of [Σₜ Σᵢ (yᵢHᵢ − ln 2cosh Hᵢ) − l2 ΣJ²] / n, by plain numpy."""
    H = h + X @ J.T
    R = Y - np.tanh(H)
    gh = R.sum(axis=0) / len(X)
    gJ = (R.T @ X - 2.0 * l2 * J) / len(X)
    if not self_couplings:
        np.fill_diagonal(gJ, 0.0)
    return gh, gJ


def mean_loglik(model, X, Y):
    return float(model.transition_log_prob(X.astype(np.int8), Y.astype(np.int8)).mean())


# ---------------------------------------------------------------------------------------- data
@pytest.fixture(scope="module")
def truth():
    return random_kinetic(N, G, seed=11)


@pytest.fixture(scope="module")
def raster(truth):
    return simulate(truth, T_LONG, seed=12)


@pytest.fixture(scope="module")
def ml_short(raster):
    return fit_kinetic(raster[:T_SHORT], method="ml", progress=False)


@pytest.fixture(scope="module")
def ml_long(raster):
    return fit_kinetic(raster, method="ml", progress=False)


# ------------------------------------------------------------------------------ maximum likelihood
def test_ml_error_falls_like_one_over_sqrt_T(truth, ml_short, ml_long):
    """RMSE(J) at T and 4T: the ratio should be √4 = 2 for an efficient estimator.

    The 2450 off-diagonal errors make each RMSE precise to ~1.5 %, the 4T data contain the T data
    (their errors are nearly independent, 3/4 of the 4T data are new), and l2 = 1 shrinks J by
    ~1e-4 relatively, so 2 ± 0.2 is a tolerance of several standard deviations."""
    e_short = rmse_offdiag(ml_short.J, truth.J)
    e_long = rmse_offdiag(ml_long.J, truth.J)
    assert ml_short.converged and ml_long.converged
    assert 1.8 < e_short / e_long < 2.2, (e_short, e_long)
    # and the size itself: ~1/√(T (1 − m²)) per coupling
    assert e_short < 1.3 / np.sqrt(T_SHORT)
    assert np.sqrt(np.mean((ml_long.h - truth.h) ** 2)) < 2.0 / np.sqrt(T_LONG)


def test_ml_is_stationary_and_beats_the_truth(truth, raster, ml_short):
    X, Y = pairs([raster[:T_SHORT]])
    l2 = ml_short.meta["l2"]
    gh, gJ = penalised_gradient(ml_short.h, ml_short.J, X, Y, l2)
    th, tJ = penalised_gradient(truth.h, truth.J, X, Y, l2)
    fit_grad = max(np.abs(gh).max(), np.abs(gJ).max())
    truth_grad = max(np.abs(th).max(), np.abs(tJ).max())
    assert fit_grad < 2e-4                      # statistical scale 1/√n = 5e-3
    assert fit_grad < 0.03 * truth_grad
    assert np.all(np.diag(ml_short.J) == 0.0)
    ll_fit, ll_truth = mean_loglik(ml_short.model, X, Y), mean_loglik(truth, X, Y)
    assert ll_fit > ll_truth
    assert ml_short.log_likelihood == pytest.approx(ll_fit, abs=1e-6)
    # the history records a non-decreasing objective and a final gradient below tol
    obj = ml_short.history["objective"]
    assert np.all(np.diff(obj) > -1e-9)
    assert ml_short.history["gradient"][-1] <= ml_short.meta["tol"]


def test_ml_matches_direct_optimisation_and_precisions_agree():
    """A small problem solved by scipy's L-BFGS-B on the textbook objective (float64) agrees with
    fit_kinetic in both working precisions, with and without self-couplings."""
    from scipy.optimize import minimize

    n = 6
    model = random_kinetic(n, 0.8, seed=5, h_sd=0.3)
    S = simulate(model, 3000, seed=6)
    X, Y = pairs([S])
    for self_couplings in (False, True):
        l2 = 2.0

        def objective(theta):
            h, J = theta[:n], theta[n:].reshape(n, n)
            H = h + X @ J.T
            f = -(np.sum(Y * H - np.logaddexp(H, -H)) - l2 * np.sum(J * J)) / len(X)
            gh, gJ = penalised_gradient(h, J, X, Y, l2, self_couplings=True)
            return f, -np.concatenate([gh, gJ.ravel()])

        bounds = [(None, None)] * n + [
            (0, 0) if (i == j and not self_couplings) else (None, None) for i in range(n) for j in range(n)
        ]
        ref = minimize(objective, np.zeros(n + n * n), jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 5000})
        for precision in ("double", "single"):
            fit = fit_kinetic(S, l2=l2, self_couplings=self_couplings, precision=precision, tol=1e-4)
            assert np.abs(fit.J - ref.x[n:].reshape(n, n)).max() < 2e-5, (self_couplings, precision)
            assert np.abs(fit.h - ref.x[:n]).max() < 2e-5
        assert (np.diag(fit.J) != 0).all() == self_couplings


def test_symmetric_fit_recovers_a_symmetric_truth_better():
    n = 30
    model = random_kinetic(n, 0.4, seed=21, symmetric=True)
    S = simulate(model, 20_000, seed=22)
    sym = fit_kinetic(S, symmetric=True)
    free = fit_kinetic(S, symmetric=False)
    assert sym.converged and free.converged
    assert np.array_equal(sym.J, sym.J.T)
    e_sym, e_free = rmse_offdiag(sym.J, model.J), rmse_offdiag(free.J, model.J)
    # averaging the two estimates of each coupling: expected ratio ≈ 1/√2
    assert e_sym < 0.85 * e_free, (e_sym, e_free)
    # stationarity under the constraint: the symmetrised gradient vanishes
    X, Y = pairs([S])
    gh, gJ = penalised_gradient(sym.h, sym.J, X, Y, sym.meta["l2"])
    assert np.abs(gh).max() < 2e-4 and np.abs(gJ + gJ.T).max() < 4e-4
    # the unconstrained fit has the higher (training) likelihood
    assert free.log_likelihood > sym.log_likelihood


# ---------------------------------------------------------------------------------- mean field
def test_tap_beats_naive_mean_field(truth, raster):
    nmf = fit_kinetic(raster, method="mean_field")
    tap = fit_kinetic(raster, method="tap")
    e_nmf, e_tap = rmse_offdiag(nmf.J, truth.J), rmse_offdiag(tap.J, truth.J)
    assert e_tap < 0.85 * e_nmf, (e_tap, e_nmf)
    # naive mean field shrinks J by ≈ (1 − F) with F ≈ g²; TAP undoes it
    off = ~np.eye(N, dtype=bool)
    slope = lambda J: float(np.sum(J[off] * truth.J[off]) / np.sum(truth.J[off] ** 2))  # noqa: E731
    assert slope(nmf.J) < 0.95
    assert abs(slope(tap.J) - 1.0) < 0.04
    assert 0.03 < tap.meta["tap_F_max"] < 1.0 / 3.0
    assert tap.log_likelihood > nmf.log_likelihood


def test_mean_field_formulas_against_direct_linear_algebra(raster):
    S = raster[:20_000]
    m = means(S)
    C = equal_time_correlations(S)
    D = delayed_correlations(S)
    A = np.diag(1.0 - m * m)
    # with self-couplings: J = A⁻¹ D C⁻¹ exactly
    _, J_full, _ = mean_field_couplings(m, C, D, "mean_field", self_couplings=True)
    assert np.allclose(J_full, np.linalg.inv(A) @ D @ np.linalg.inv(C), atol=1e-10)
    # without: row i is the regression on the other neurons, D_{i,-i} C_{-i,-i}⁻¹ / (1 − mᵢ²)
    h, J, _ = mean_field_couplings(m, C, D, "mean_field")
    for i in (0, 17, N - 1):
        rest = np.arange(N) != i
        row = np.linalg.solve(C[np.ix_(rest, rest)], D[i, rest]) / (1 - m[i] ** 2)
        assert np.allclose(J[i, rest], row, atol=1e-10) and J[i, i] == 0
    assert np.allclose(np.tanh(h + J @ m), m, atol=1e-12)
    # TAP: Jᵢⱼ = J^nMFᵢⱼ / (1 − Fᵢ) with Fᵢ = (1 − mᵢ²) Σⱼ Jᵢⱼ² (1 − mⱼ²) self-consistent,
    # and the fields solve mᵢ = tanh(hᵢ + Σⱼ Jᵢⱼ mⱼ − mᵢ Σⱼ Jᵢⱼ² (1 − mⱼ²))
    h_t, J_t, info = mean_field_couplings(m, C, D, "tap")
    F = info["F"]
    assert np.allclose(J_t, J / (1 - F)[:, None], atol=1e-12)
    assert np.allclose(F, (1 - m ** 2) * ((J_t ** 2) @ (1 - m ** 2)), atol=1e-10)
    assert np.allclose(np.tanh(h_t + J_t @ m - m * ((J_t ** 2) @ (1 - m ** 2))), m, atol=1e-12)


def test_tap_cubic():
    c = np.array([0.0, 1e-4, 0.05, 0.1, 4 / 27 - 1e-9])
    F = _solve_tap_F(c)
    assert np.allclose(F * (1 - F) ** 2, c, atol=1e-9)
    assert np.all((F >= 0) & (F <= 1 / 3 + 1e-12))
    assert _solve_tap_F(np.array([0.2]))[0] == pytest.approx(1 / 3)


# ------------------------------------------------------------------------------------------ trials
@pytest.fixture(scope="module")
def short_trials():
    """1500 independent trials of 5 bins (each from a random start) of a strongly coupled model."""
    model = random_kinetic(10, 1.5, seed=31, h_sd=0.2)
    return model, simulate(model, 5, seed=32, n_trials=1500)


def test_trials_are_never_joined(short_trials):
    model, S3 = short_trials
    trials = list(S3)
    flat = S3.reshape(-1, S3.shape[-1])
    starts = np.arange(len(trials)) * S3.shape[1]
    by_array = fit_kinetic(S3)
    by_list = fit_kinetic(trials)
    by_starts = fit_kinetic(flat, trial_starts=starts)
    for other in (by_list, by_starts):
        assert np.allclose(other.J, by_array.J, atol=1e-10) and np.allclose(other.h, by_array.h, atol=1e-10)
    assert by_array.meta["n_transitions"] == 1500 * 4 and by_array.meta["n_trials"] == 1500

    # the fit is stationary for the within-trial transitions only ...
    X, Y = pairs(trials)
    gh, gJ = penalised_gradient(by_array.h, by_array.J, X, Y, by_array.meta["l2"])
    assert max(np.abs(gh).max(), np.abs(gJ).max()) < 3e-4          # 1/√n = 1.3e-2
    # ... and would not be if the 1499 false transitions across boundaries were included
    Xa, Ya = pairs([flat])
    gh_a, gJ_a = penalised_gradient(by_array.h, by_array.J, Xa, Ya, by_array.meta["l2"])
    assert max(np.abs(gh_a).max(), np.abs(gJ_a).max()) > 1e-2
    joined = fit_kinetic(flat)
    assert rmse_offdiag(joined.J, by_array.J) > 0.05
    assert rmse_offdiag(by_array.J, model.J) < rmse_offdiag(joined.J, model.J)

    # the held-out style evaluation uses the same transitions
    assert kinetic_log_likelihood(by_array.model, S3) == pytest.approx(mean_loglik(by_array.model, X, Y), abs=1e-9)
    assert kinetic_log_likelihood(by_array.model, flat, trial_starts=starts) == pytest.approx(
        mean_loglik(by_array.model, X, Y), abs=1e-9)


def test_temporal_statistics_respect_trials(short_trials):
    _, S3 = short_trials
    trials = [tr.astype(float) for tr in S3[:300]]
    flat = np.concatenate(trials)
    m = flat.mean(axis=0)
    assert np.allclose(means(list(S3[:300])), m)
    C = equal_time_correlations(list(S3[:300]))
    assert np.allclose(C, flat.T @ flat / len(flat) - np.outer(m, m), atol=1e-12)
    for tau in (1, 3):
        later = np.concatenate([tr[tau:] for tr in trials])
        earlier = np.concatenate([tr[:-tau] for tr in trials])
        D = delayed_correlations(list(S3[:300]), tau=tau)
        assert np.allclose(D, later.T @ earlier / len(later) - np.outer(m, m), atol=1e-12)
        A = autocorrelations(list(S3[:300]), max_lag=4)
        assert np.allclose(A[tau], np.mean(later * earlier, axis=0) - m * m, atol=1e-12)
    assert np.allclose(delayed_correlations(flat, tau=0), C, atol=1e-12)
    A = autocorrelations(flat, max_lag=6, trial_starts=np.arange(300) * 5, normalise=True)
    assert np.allclose(A[0], 1.0) and np.all(np.isnan(A[5:]))        # no pair 5 bins apart in a trial
    with pytest.raises(InputError, match="no trial is longer"):
        delayed_correlations(flat, tau=5, trial_starts=np.arange(300) * 5)


def test_as_trials_inputs():
    S = np.array([[0, 1], [1, 1], [0, 0], [1, 0]])
    spins, starts = as_trials(S)
    assert spins.dtype == np.int8 and spins[0].tolist() == [-1, 1] and starts.tolist() == [0]
    _, starts = as_trials(S, trial_starts=[2])               # a missing leading 0 is added
    assert starts.tolist() == [0, 2]
    with pytest.raises(InputError, match="trial_starts"):
        as_trials(S, trial_starts=[0, 4])
    with pytest.raises(InputError, match="neurons but trial 0"):
        as_trials([S, S[:, :1]])
    with pytest.raises(InputError, match="not both"):
        as_trials([S, S], trial_starts=[0])


# ---------------------------------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def small_raster():
    return simulate(random_kinetic(8, 0.3, seed=41), 2000, seed=42)


def test_wrong_orientation(small_raster):
    with pytest.raises(InputError, match="transposed"):
        fit_kinetic(small_raster.T)


def test_single_time_step(small_raster):
    with pytest.raises(InputError, match="single time step"):
        fit_kinetic(small_raster[:1])
    with pytest.raises(InputError, match="single time bin"):
        fit_kinetic(small_raster[:10], trial_starts=np.arange(10))


def test_neuron_that_never_changes(small_raster):
    S = small_raster.copy()
    S[:, 3] = -1
    for method in ("ml", "mean_field", "tap"):
        with pytest.raises(InputError, match="neuron 3 .*never changes"):
            fit_kinetic(S, method=method)
    # opting in with a penalty on the fields: a warning and a finite, strongly negative field
    with pytest.warns(UserWarning, match="never changes"):
        fit = fit_kinetic(S, l2_h=1.0)
    assert np.all(np.isfinite(fit.J)) and np.isfinite(fit.h[3]) and fit.h[3] < -2.0


def test_non_binary_and_other_bad_values(small_raster):
    S = small_raster.astype(float)
    S[5, 2] = 2.0
    with pytest.raises(InputError, match="only"):
        fit_kinetic(S)
    S[5, 2] = np.nan
    with pytest.raises(InputError, match="non-finite"):
        fit_kinetic(S)
    with pytest.raises(InputError, match="method"):
        fit_kinetic(small_raster, method="newton")
    with pytest.raises(InputError, match="l2"):
        fit_kinetic(small_raster, l2=-1)
    with pytest.raises(InputError, match="1-D"):
        fit_kinetic(small_raster[:, 0])
    # 0/1 data are the same data as ±1
    binary = (small_raster + 1) // 2
    assert np.allclose(fit_kinetic(binary).J, fit_kinetic(small_raster).J, atol=1e-12)


# ------------------------------------------------------------------------------------- files, CLI
def test_save_and_load(tmp_path, small_raster):
    fit = fit_kinetic(small_raster)
    assert isinstance(fit, KineticFit)
    path = tmp_path / "kfit.npz"
    fit.save(path)
    model, meta, history = load_model(path)
    assert model.kind == "kinetic" and np.array_equal(model.J, fit.J) and np.array_equal(model.h, fit.h)
    assert meta["method"] == "ml" and meta["converged"] is True and meta["iterations"] == fit.n_iterations
    assert np.array_equal(history["gradient"], fit.history["gradient"])
    with pytest.raises(InputError, match="already exists"):
        fit.save(path)
    fit.save(path, force=True)


@pytest.fixture
def kinetic_cli(monkeypatch):
    if "fit_kinetic" not in cli.COMMANDS:
        monkeypatch.setattr(cli, "COMMANDS", tuple(cli.COMMANDS) + ("fit_kinetic",))
    return cli.main


def test_cli_fit_kinetic(tmp_path, small_raster, kinetic_cli, capsys):
    raster = tmp_path / "raster.txt"
    np.savetxt(raster, (small_raster.T > 0).astype(int), fmt="%d")     # neurons × bins, 0/1
    out = tmp_path / "kfit.npz"
    assert kinetic_cli(["fit-kinetic", str(raster), "-o", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "8 neurons, 2000 time bins" in printed and "converged" in printed
    model, meta, _ = load_model(out)
    assert np.allclose(model.J, fit_kinetic(small_raster).J, atol=1e-9)
    assert meta["method"] == "ml" and meta["source"] == str(raster)
    # an existing output is kept without --force
    assert kinetic_cli(["fit-kinetic", str(raster), "-o", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert kinetic_cli(["fit-kinetic", str(raster), "-o", str(out), "--force", "--method", "tap",
                        "--symmetric", "--trial-length", "500"]) == 0
    model, meta, _ = load_model(out)
    assert meta["method"] == "tap" and meta["n_trials"] == 4 and np.allclose(model.J, model.J.T)
    json.dumps(meta)
    # a raster given in the wrong orientation is refused with one line
    wrong = tmp_path / "wrong.txt"
    np.savetxt(wrong, (small_raster[:300] > 0).astype(int), fmt="%d")  # bins × neurons
    assert kinetic_cli(["fit-kinetic", str(wrong), "-o", str(tmp_path / "w.npz")]) == 2
    assert "orientation" in capsys.readouterr().err


def test_no_warnings_on_clean_data(small_raster):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_kinetic(small_raster)
        fit_kinetic(small_raster, method="tap")
