"""The fit() dispatcher, FitResult files, and the ``inverse-ising fit`` command."""
import json
import os

import numpy as np
import pytest

import inverse_ising as ii
from inverse_ising import cli
from inverse_ising.errors import InputError
from inverse_ising.exact import exact_sample
from inverse_ising.fit import METHODS, FitResult, fit, load_fit


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    N = 6
    J = np.triu(rng.normal(0, 0.3, size=(N, N)), 1)
    model = ii.PairwiseIsing(rng.normal(0, 0.3, size=N), J + J.T)
    return model, exact_sample(model, 4000, seed=1)


@pytest.fixture
def run_cli(monkeypatch):
    """``inverse-ising`` with the fit command registered (as the package's COMMANDS will have it)."""
    if "fit" not in cli.COMMANDS:
        monkeypatch.setattr(cli, "COMMANDS", tuple(cli.COMMANDS) + ("fit",))

    def run(*argv):
        return cli.main([str(a) for a in argv])
    return run


# ---------------------------------------------------------------------------------------------
# dispatcher
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
def test_every_method_fits_pairwise_data(data, method):
    truth, X = data
    kwargs = {"backend": "numpy", "seed": 1, "progress": False} if method == "boltzmann" else {}
    r = fit(X, method=method, **kwargs)
    assert isinstance(r, FitResult) and r.method == method and r.kind == "pairwise"
    assert r.model.n_spins == 6
    iu = np.triu_indices(6, 1)
    # 4000 samples of 6 spins: every method lands near the truth (errors ≈ 0.016)
    assert np.max(np.abs(r.J[iu] - truth.J[iu])) < 0.12
    assert np.max(np.abs(r.h - truth.h)) < 0.12
    assert r.meta["method"] == method and r.meta["model"] == "pairwise"
    assert method in r.summary()


def test_boltzmann_agrees_with_exact(data):
    _, X = data
    e = fit(X, method="exact")
    b = fit(X, backend="numpy", seed=2, progress=False)
    iu = np.triu_indices(6, 1)
    assert np.max(np.abs(b.J[iu] - e.J[iu]) / b.se_J[iu]) < 1.0
    assert np.max(np.abs(b.h - e.h) / b.se_h) < 1.0


def test_binary_01_data_and_datasets(data):
    _, X = data
    X01 = (X + 1) // 2
    a = fit(X, method="pseudolikelihood")
    b = fit(X01.astype(np.uint8), method="pseudolikelihood")
    assert np.allclose(a.J, b.J) and np.allclose(a.h, b.h)
    from inverse_ising.data import Dataset

    c = fit(Dataset(X01), method="pseudolikelihood")
    assert np.allclose(a.J, c.J)


def test_dispatcher_errors(data):
    _, X = data
    with pytest.raises(InputError, match="unknown model"):
        fit(X, model="kinetic")
    with pytest.raises(InputError, match="unknown method"):
        fit(X, method="gradient")
    with pytest.raises(InputError, match="l1 applies to Boltzmann learning only"):
        fit(X, method="pseudolikelihood", l1=0.1)
    with pytest.raises(InputError, match="unknown option.*n_chains.*pseudolikelihood"):
        fit(X, method="pseudolikelihood", n_chains=10)
    with pytest.raises(InputError, match="shrinkage"):
        fit(X, method="mean_field", l2=0.1)
    with pytest.raises(InputError, match="N ≤ 20|at most|too many|20"):
        fit(np.where(np.random.default_rng(0).random((50, 21)) < 0.5, 1, -1), method="exact")


def test_mean_field_shrinkage_option(data):
    _, X = data
    a = fit(X, method="mean_field", shrinkage=0.0, check=False)
    b = fit(X, method="mean_field", shrinkage=0.5, check=False)
    assert np.max(np.abs(b.J)) < np.max(np.abs(a.J))
    assert b.meta["shrinkage"] == 0.5


def test_fast_fit_save_and_load(tmp_path, data):
    _, X = data
    r = fit(X, method="pseudolikelihood")
    path = tmp_path / "pl.npz"
    r.save(path)
    back = load_fit(path)
    assert back.method == "pseudolikelihood" and back.converged is True
    assert np.array_equal(back.J, r.J)
    assert back.stderr == {}
    with np.load(path) as npz:
        meta = json.loads(str(npz["meta"]))
    assert meta["package_version"] == ii.__version__ and meta["iterations"] == r.iterations
    r.save(path, force=True)


def test_result_properties(data):
    _, X = data
    r = fit(X, method="pseudolikelihood")
    assert r.h is r.model.h and r.J is r.model.J
    with pytest.raises(AttributeError):
        r.h_total
    assert "pseudolikelihood" in repr(r)


# ---------------------------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def spins_file(tmp_path, data):
    _, X = data
    path = tmp_path / "data.npz"
    ii.save_spins(path, X)
    return path


def test_cli_fits_and_refuses_to_overwrite(tmp_path, spins_file, run_cli, capsys):
    out = tmp_path / "fit.npz"
    assert run_cli("fit", spins_file, "-o", out, "--backend", "numpy", "--seed", 1, "--no-progress") == 0
    text = capsys.readouterr().out
    assert "converged" in text and str(out) in text
    r = load_fit(out)
    assert r.method == "boltzmann" and r.converged and r.meta["source"] == str(spins_file)
    assert not os.path.exists(f"{out}.checkpoint.npz")  # the default checkpoint is cleaned up
    before = out.read_bytes()
    assert run_cli("fit", spins_file, "-o", out, "--method", "exact") == 2
    assert "already exists" in capsys.readouterr().err and out.read_bytes() == before
    assert run_cli("fit", spins_file, "-o", out, "--method", "exact", "--force") == 0
    assert load_fit(out).method == "exact"


def test_cli_errors(tmp_path, spins_file, run_cli, capsys):
    out = tmp_path / "fit.npz"
    assert run_cli("fit", tmp_path / "missing.npz", "-o", out) == 2
    assert "no such file" in capsys.readouterr().err
    assert run_cli("fit", spins_file, "-o", tmp_path / "nofolder" / "f.npz") == 2
    assert "does not exist" in capsys.readouterr().err
    assert run_cli("fit", spins_file, "-o", out, "--method", "pseudolikelihood", "--chains", 10) == 2
    assert "--chains applies to --method boltzmann only" in capsys.readouterr().err
    assert run_cli("fit", spins_file, "-o", out, "--model", "lattice") == 2
    assert "--shape" in capsys.readouterr().err
    bad = tmp_path / "bad.npy"
    np.save(bad, np.array([[0, 1, 2]] * 20))
    assert run_cli("fit", bad, "-o", out) == 2
    assert "2" in capsys.readouterr().err
    assert run_cli("fit", spins_file, "-o", out, "--optimizer", "sgd", "--learning-rate", 100, "--init", "random",
                   "--backend", "numpy", "--seed", 1) == 2
    err = capsys.readouterr().err
    assert "diverged" in err and "smaller learning_rate" in err
    assert not out.exists()
    with pytest.raises(SystemExit):
        run_cli("fit", spins_file, "-o", out, "--l2", "-1")


def test_cli_resume(tmp_path, spins_file, run_cli, capsys, monkeypatch):
    out = tmp_path / "fit.npz"
    ckpt = tmp_path / "fit.ckpt.npz"
    from inverse_ising import boltzmann

    original = boltzmann._PairwiseProblem.measure
    calls = {"n": 0}

    def interrupted(problem, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return original(problem, *args, **kwargs)

    args = ("fit", spins_file, "-o", out, "--backend", "numpy", "--seed", 3, "--init", "zeros",
            "--checkpoint", ckpt, "--checkpoint-every", 1, "--no-progress")
    monkeypatch.setattr(boltzmann._PairwiseProblem, "measure", interrupted)
    assert run_cli(*args) == 130
    assert "interrupted" in capsys.readouterr().err
    assert ckpt.exists() and not out.exists()
    monkeypatch.setattr(boltzmann._PairwiseProblem, "measure", original)
    assert run_cli(*args) == 2
    assert "--resume" in capsys.readouterr().err
    assert run_cli(*args, "--resume") == 0
    resumed = load_fit(out)
    assert ckpt.exists()  # an explicit --checkpoint is kept
    fresh = tmp_path / "fresh.npz"
    assert run_cli("fit", spins_file, "-o", fresh, "--backend", "numpy", "--seed", 3, "--init", "zeros",
                   "--no-progress") == 0
    assert np.array_equal(load_fit(fresh).J, resumed.J)


def test_cli_lattice_from_a_spins_file_with_shape(tmp_path, run_cli, capsys):
    X = ii.sample(ii.LatticeIsing(8, 0.3, 0.05), 100, backend="numpy", seed=6, n_chains=100, burn_in=100)
    path = tmp_path / "lattice.npz"
    ii.save_spins(path, X, shape=(8, 8))
    out = tmp_path / "lfit.npz"
    assert run_cli("fit", path, "-o", out, "--model", "lattice", "--method", "pseudolikelihood") == 0
    text = capsys.readouterr().out
    assert "h_total" in text and "±" in text
    r = load_fit(out)
    assert r.model.kind == "lattice" and r.model.L == 8 and r.se_J > 0
    out2 = tmp_path / "lfit2.npz"
    assert run_cli("fit", path, "-o", out2, "--model", "lattice", "--backend", "numpy", "--seed", 1,
                   "--rule", "glauber", "--no-progress") == 0
    r2 = load_fit(out2)
    assert r2.meta["rule"] == "glauber" and abs(r2.J - r.J) < 3 * r.se_J


def test_check_judges_a_fit_by_sampling_it(data):
    truth, X = data
    good = fit(X, method="exact")
    report = good.check(X, backend="numpy", seed=1)
    assert report["noise"] <= 0.25 and report["max_z"] < 1.0 and report["msz"] < 0.1
    independent = ii.PairwiseIsing(np.arctanh(X.mean(axis=0)), np.zeros((6, 6)))
    from inverse_ising.boltzmann import compare_moments

    bad = compare_moments(independent, X, backend="numpy", seed=1)
    assert bad["max_z"] > 5 and bad["msz"] > 5  # correlations ignored: far outside the error bars
    with pytest.raises(InputError, match="units but the model has"):
        compare_moments(ii.PairwiseIsing(np.zeros(3), np.zeros((3, 3))), X, backend="numpy")
    grids = ii.sample(ii.LatticeIsing(8, 0.3, 0.05), 100, backend="numpy", seed=6, n_chains=100, burn_in=100)
    lat = compare_moments(ii.LatticeIsing(8, 0.3, 0.05), grids, backend="numpy", seed=2)
    assert lat["noise"] <= 0.25 and lat["max_z"] < 3.5
    wrong = compare_moments(ii.LatticeIsing(8, 0.2, 0.05), grids, backend="numpy", seed=2)
    assert wrong["max_z"] > 5
