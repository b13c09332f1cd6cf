"""Every fitted model is judged by sampling it from the data's states (inverse_ising.model_check)."""
import json
import re
import warnings

import numpy as np
import pytest

import inverse_ising as ii
from inverse_ising import cli, model_check, plots
from inverse_ising import kinetic as kinetic_module
from inverse_ising import pseudolikelihood as pl_module
from inverse_ising.model_check import MIN_ROWS, ModelCheckWarning, check_by_sampling
from inverse_ising.models import KineticIsing, PairwiseIsing
from inverse_ising.neural_stats import neural_to_spin
from inverse_ising.synthetic import (
    retina_kinetic_data,
    retina_kinetic_model,
    retina_pairwise_data,
    retina_pairwise_model,
)


@pytest.fixture(scope="module")
def retina():
    """A sparse retina-like population (N = 20), equilibrium data from it, and the same model with
    its 0/1-form couplings tripled, which runs away to a high-activity state."""
    truth = retina_pairwise_model(20, seed=0)
    data = retina_pairwise_data(4000, truth, seed=1)
    runaway = PairwiseIsing(*neural_to_spin(truth.b, 3.0 * truth.W))
    return truth.model, data, runaway


def model_check_warnings(caught):
    return [w for w in caught if issubclass(w.category, ModelCheckWarning)]


# ---------------------------------------------------------------------------------------- the check
def test_the_true_model_passes(retina):
    truth, data, _ = retina
    for seed in (1, 2, 3):
        r = check_by_sampling(truth, data, seed=seed)
        assert r.passed is True and not r.runaway and r.failures == ()
        assert r.pk_kl < r.pk_kl_allowed and r.max_z < r.max_z_allowed
        assert abs(r.mean_activity_model - r.mean_activity_data) < 0.01
    assert r.describe().startswith("passes its sampled check: P(K) KL")


def test_a_runaway_model_is_flagged(retina):
    _, data, runaway = retina
    r = check_by_sampling(runaway, data, seed=1)
    assert r.passed is False and r.runaway
    assert r.failures[0] == "runaway" and "P(K)" in r.failures and "moments" in r.failures
    assert r.fraction_outside > 0.5 and r.mean_activity_model > 5 * r.mean_activity_data
    assert r.pk_kl > 10 * r.pk_kl_independent
    assert r.describe().startswith("runs away when sampled: mean activity")


def test_a_model_that_misses_the_correlations_is_flagged_only_when_moments_are_judged(retina):
    _, data, _ = retina
    independent = PairwiseIsing(np.arctanh(data.spins.mean(axis=0)), np.zeros((20, 20)))
    judged = check_by_sampling(independent, data, seed=1)
    assert judged.passed is False and judged.failures == ("moments",) and not judged.runaway
    assert check_by_sampling(independent, data, seed=1, judge_moments=False).passed is True


def test_the_check_is_repeatable_and_records_its_seed(retina):
    truth, data, _ = retina
    a = check_by_sampling(truth, data)
    b = check_by_sampling(truth, data, seed=a.seed)
    assert a.summary() == b.summary()
    json.dumps(a.summary())  # the summary is what a fit file stores


def test_kinetic_models_are_simulated_from_data_states():
    km = retina_kinetic_model(20, seed=0)
    data = retina_kinetic_data(10, 400, km, seed=1)
    good = check_by_sampling(km.model, data, seed=2, judge_moments=False)
    assert good.passed is True and not good.moments_judged
    bad = check_by_sampling(KineticIsing(km.model.h, 3.0 * km.model.J), data, seed=2, judge_moments=False)
    assert bad.passed is False and bad.failures == ("P(K)",)


def test_too_few_rows_are_not_checked(retina):
    truth, data, _ = retina
    r = check_by_sampling(truth, data.spins[:MIN_ROWS - 1], seed=1)
    assert r.passed is None and r.describe().startswith("not checked")
    with pytest.raises(ii.InputError, match="units"):
        check_by_sampling(truth, data.spins[:, :5], seed=1)


def test_the_check_does_not_import_the_learners():
    import ast

    with open(model_check.__file__, encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not imported & {"boltzmann", "pseudolikelihood", "mean_field", "kinetic", "fit"}


# ----------------------------------------------------------------------------------- part of every fit
@pytest.fixture
def runaway_pseudolikelihood(monkeypatch, retina):
    """The pseudo-likelihood learner, returning the runaway model with its true report of convergence."""
    _, _, runaway = retina
    real = pl_module.fit_pseudolikelihood

    def fit_pseudolikelihood(spins, **options):
        _, _, info = real(spins, **options)
        return runaway.h, runaway.J, info

    monkeypatch.setattr(pl_module, "fit_pseudolikelihood", fit_pseudolikelihood)


def test_a_runaway_fit_warns_once_and_does_not_say_converged(retina, runaway_pseudolikelihood, tmp_path):
    _, data, _ = retina
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = ii.fit(data, method="pseudolikelihood", seed=5)
    found = model_check_warnings(caught)
    assert len(found) == 1
    message = str(found[0].message)
    assert message.startswith("pseudolikelihood model runs away when sampled: mean activity")
    assert message.endswith("use method='boltzmann'") and "\n" not in message
    assert result.converged is True and result.sampled_check["passed"] is False
    text = result.summary()
    assert "converged (pseudo-likelihood optimum) after" in text and "but FAILS its sampled check" in text
    assert not re.search(r"\bconverged after", text)
    # saved with the fit and seen again by load_fit
    result.save(tmp_path / "fit.npz")
    loaded = ii.load_fit(tmp_path / "fit.npz")
    assert loaded.sampled_check == result.sampled_check
    assert loaded.summary() == text


def test_fits_that_pass_say_so_and_check_false_skips(retina):
    _, data, _ = retina
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = ii.fit(data, method="pseudolikelihood", seed=5)
    assert model_check_warnings(caught) == []
    assert result.sampled_check["passed"] is True and result.sampled_check["seed"] == 5
    assert "converged after" in result.summary() and "passes its sampled check" in result.summary()
    unchecked = ii.fit(data, method="pseudolikelihood", check=False)
    assert unchecked.sampled_check is None and "sampled check" not in unchecked.summary()


def test_lattice_fits_are_checked_on_runaway_and_p_k_only():
    X = ii.sample(ii.LatticeIsing(8, 0.3, 0.05), 300, seed=6, n_chains=300, burn_in=100)
    result = ii.fit(X, model="lattice", method="pseudolikelihood", seed=1)
    assert result.sampled_check["passed"] is True and result.sampled_check["moments_judged"] is False
    ordered = ii.LatticeIsing(8, 0.8, 0.05)  # deep in the ordered phase: the chains magnetise
    r = check_by_sampling(ordered, X, seed=1)
    assert r.passed is False and r.runaway


def test_mean_field_summary_names_its_closed_form(retina):
    _, data, _ = retina
    result = ii.fit(data, method="mean_field", check=False)
    assert "closed form (no iterations)" in result.summary() and "no stopping rule" not in result.summary()


def test_cli_fit_prints_the_one_warning_line(retina, runaway_pseudolikelihood, tmp_path, monkeypatch, capsys):
    _, data, _ = retina
    if "fit" not in cli.COMMANDS:
        monkeypatch.setattr(cli, "COMMANDS", tuple(cli.COMMANDS) + ("fit",))
    path = tmp_path / "data.npz"
    ii.save_spins(path, data.spins)
    assert cli.main(["fit", str(path), "--method", "pseudolikelihood", "-o", str(tmp_path / "fit.npz")]) == 0
    out, err = capsys.readouterr()
    warned = [line for line in err.splitlines() if "sampled" in line]
    assert len(warned) == 1
    assert warned[0].startswith("inverse-ising: warning: pseudolikelihood model runs away when sampled")
    assert "FAILS its sampled check" in out and not re.search(r"\bconverged after", out)
    assert ii.load_fit(tmp_path / "fit.npz").sampled_check["runaway"] is True


def test_a_kinetic_fit_is_checked_and_the_cli_says_when_it_fails(tmp_path, monkeypatch, capsys):
    km = retina_kinetic_model(20, seed=0)
    data = retina_kinetic_data(10, 400, km, seed=1)
    fit = ii.fit_kinetic(data.spins, trial_starts=data.trial_starts, seed=3, progress=False)
    assert fit.meta["check"]["passed"] is True and fit.meta["check"]["seed"] == 3
    real = kinetic_module.mean_field_couplings

    def inflated(*args, **kwargs):
        h, J, info = real(*args, **kwargs)
        return h, 3.0 * J, info

    monkeypatch.setattr(kinetic_module, "mean_field_couplings", inflated)
    raster = tmp_path / "raster.npy"
    np.save(raster, data.spins)
    assert cli.main(["fit-kinetic", str(raster), "-o", str(tmp_path / "k.npz"), "--method", "mean_field"]) == 0
    out, err = capsys.readouterr()
    assert "method mean_field: log-likelihood" in out and ", FAILS its sampled check: the model " in out
    warned = [line for line in err.splitlines() if "sampled" in line]
    assert len(warned) == 1 and warned[0].endswith("use method='ml'")
    _, meta, _ = ii.load_model(tmp_path / "k.npz")
    assert meta["check"]["passed"] is False


# -------------------------------------------------------------------------------------------- figures
def test_the_report_marks_a_model_that_runs_away(retina, tmp_path):
    from inverse_ising.report import make_report

    _, data, runaway = retina
    summary = make_report(data, fits=[(runaway, {"method": "pseudolikelihood"})], out=tmp_path / "report",
                          n_model_samples=2000, log=lambda *a: None)
    check = summary["models"]["pairwise"]["check"]
    assert check["passed"] is False and check["runaway"]
    page = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert "FAILS its sampled check: the model runs away when sampled" in page
    assert page.count("model runs away when sampled: its states are unlike the data") == 1


def test_the_spike_count_figure_marks_a_failing_model():
    plt = plots.require_matplotlib()
    p = np.array([0.5, 0.3, 0.2])
    fig = plots.plot_spike_count(p, None, {"pairwise": [0.1, 0.2, 0.7], "independent": p}, n_data=100,
                                 flags={"pairwise": "runs away when sampled"})
    labels = fig.axes[0].get_legend_handles_labels()[1]
    plt.close(fig)
    assert "pairwise (equilibrium) — runs away when sampled" in labels and "independent" in labels
