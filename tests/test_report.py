"""The report: model comparison on data from known models, the CLI, bad input, the output folder.

Fixed seeds throughout. The two comparisons that matter of the report:

* equilibrium data sampled from a known sparse N = 40 pairwise model: the fitted pairwise model
  beats the independent one on P(K) (Kullback–Leibler divergence and χ²) and on the connected
  three-point correlations (RMS over all triplets and over those significant in the data);
* kinetic data simulated from a known sparse asymmetric N = 40 model, read back from a bint-style
  text raster by the CLI: the asymmetric kinetic model reproduces the delayed correlations within
  the data's error bars and has the best held-out log-likelihood.
"""
import json
import os
import struct

import numpy as np
import pytest

import inverse_ising.cli as cli
from inverse_ising import synthetic
from inverse_ising.data import save_raster_text
from inverse_ising.errors import InputError
from inverse_ising.report import MARKER, check_output_dir, make_report

FAST_BOLTZMANN = {"n_chains": 200, "tol": 1.5, "check_noise": 0.5, "max_sweeps": 400, "max_iter": 60}
FIGURES = ("firing_rates.png", "correlations.png", "three_point.png", "spike_count.png", "learning_curves.png",
           "couplings.png")


def run_cli(argv, monkeypatch=None):
    """``inverse-ising ARGS`` in-process."""
    if "report" not in cli.COMMANDS:
        monkeypatch.setattr(cli, "COMMANDS", tuple(cli.COMMANDS) + ("report",))
    return cli.main(argv)


def is_png(path):
    with open(path, "rb") as fh:
        head = fh.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return False
    width, height = struct.unpack(">II", head[16:24])
    return width > 200 and height > 150


@pytest.fixture(scope="module")
def equilibrium_report(tmp_path_factory):
    """A report on 40 000 samples of the retina-like pairwise model (N = 40), with a pairwise fit
    given in memory (pseudo-likelihood: fast and, with this much data, accurate); the report's
    own Boltzmann fitting is tested on a smaller problem below."""
    import inverse_ising as ii
    from inverse_ising.pseudolikelihood import fit_pseudolikelihood

    out = tmp_path_factory.mktemp("eq") / "report"
    truth = synthetic.retina_pairwise_model(40, seed=5)
    data = synthetic.retina_pairwise_data(40000, truth, seed=6, backend="numpy")
    h, J, _ = fit_pseudolikelihood(data.spins)
    fit = (ii.PairwiseIsing(h, J), {"method": "pseudolikelihood"}, {})
    summary = make_report(data, [fit], out=out, backend="numpy", seed=7, log=lambda *a: None)
    return out, summary, truth, J


def test_pairwise_beats_independent_on_spike_counts_and_triplets(equilibrium_report):
    out, summary, _, _ = equilibrium_report
    ind, pw = summary["comparison"]["independent"], summary["comparison"]["pairwise"]
    # P(K): the classic test
    assert pw["P_K_kl_bits"] < 0.1 * ind["P_K_kl_bits"]
    assert pw["P_K_chi2"] < 0.1 * ind["P_K_chi2"]
    # three-point correlations: no model was fitted to them
    assert pw["T_rms"] < 0.9 * ind["T_rms"]
    assert pw["T_rms_significant"] < 0.6 * ind["T_rms_significant"]
    assert summary["data"]["n_significant_triplets"] > 200
    # and, as fitted, the pairwise model reproduces C within the data's error bars
    assert pw["C_chi2"] < 1.5 < 3 < ind["C_chi2"]
    assert summary["data"]["n_neurons"] == 40 and not summary["data"]["temporal"]
    assert set(summary["comparison"]) == {"independent", "pairwise"}  # rows are independent draws
    assert summary["settings"]["model_bins"] == 200_000


def test_equilibrium_report_files(equilibrium_report):
    out, summary, truth, J = equilibrium_report
    for name in FIGURES[:4] + ("couplings.png",):
        assert is_png(out / name), name
    assert not (out / "delayed_correlations.png").exists()  # no time order in the data
    page = (out / "index.html").read_text(encoding="utf-8")
    for f in summary["figures"]:
        assert f"src='{f['file']}'" in page
    on_disk = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert on_disk["comparison"]["pairwise"]["P_K_kl_bits"] == pytest.approx(
        summary["comparison"]["pairwise"]["P_K_kl_bits"])
    check = on_disk["models"]["pairwise"].pop("check")
    assert on_disk["models"]["pairwise"] == {"source": "given (pseudolikelihood)", "method": "pseudolikelihood",
                                             "fitted_here": False}
    assert check["passed"] is True and not check["runaway"]  # a given fit is checked on the report's data
    assert "runs away" not in page and "FAILS" not in page
    assert (out / MARKER).exists()
    iu = np.triu_indices(40, 1)
    assert np.corrcoef(J[iu], truth.J[iu])[0, 1] > 0.8  # the data determine the true couplings
    leftovers = [p for p in os.listdir(out.parent) if p.startswith(".")]
    assert leftovers == []


def test_the_report_fits_a_missing_pairwise_model(tmp_path):
    """No fit given: pseudo-likelihood start + Boltzmann learning inside the report."""
    from inverse_ising.io import load_model

    truth = synthetic.retina_pairwise_model(12, rate_range=(0.05, 0.15), seed=5)
    data = synthetic.retina_pairwise_data(5000, truth, seed=6, backend="numpy")
    summary = make_report(data, out=tmp_path / "r", backend="numpy", seed=7, n_model_samples=20000,
                          pairwise_options=FAST_BOLTZMANN, log=lambda *a: None)
    assert summary["models"]["pairwise"]["fitted_here"] and summary["models"]["pairwise"]["method"] == "boltzmann"
    pw, ind = summary["comparison"]["pairwise"], summary["comparison"]["independent"]
    assert pw["C_chi2"] < 1.5 < 3 < ind["C_chi2"]
    model, meta, history = load_model(tmp_path / "r" / "fit_pairwise.npz")
    assert meta["converged"] and meta["init"] == "pseudolikelihood" and history["max_z"].size == meta["iterations"]
    assert is_png(tmp_path / "r" / "learning_curves.png")


@pytest.fixture(scope="module")
def kinetic_raster(tmp_path_factory):
    """Kinetic data (N = 40, 40 trials × 500 bins) as a bint-style text raster (neurons × bins)."""
    folder = tmp_path_factory.mktemp("kin")
    truth = synthetic.retina_kinetic_model(40, seed=8)
    data = synthetic.retina_kinetic_data(40, 500, truth, seed=9, backend="numpy")
    path = folder / "bint.txt"
    save_raster_text(path, data.spins)
    first = path.read_text().splitlines()[0].split()
    assert len(first) == 20000 and set(first) <= {"0", "1"}  # one row per neuron, 0/1 per bin
    return folder, path, data


def test_kinetic_model_matches_delayed_correlations_from_a_text_raster(kinetic_raster, monkeypatch, capsys):
    folder, path, data = kinetic_raster
    out = folder / "report"
    rc = run_cli(["report", str(path), "--trial-length", "500", "--out", str(out), "--backend", "numpy",
                  "--seed", "3", "--model-bins", "40000", "--no-progress",
                  "--models", "independent,kinetic_symmetric,kinetic_asymmetric"], monkeypatch)
    assert rc == 0, capsys.readouterr().err
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["data"]["n_neurons"] == 40 and s["data"]["n_bins"] == 20000 and s["data"]["n_trials"] == 40
    assert s["data"]["test_bins"] == 4000  # 8 of 40 trials held out
    c = s["comparison"]
    asym, sym, ind = c["kinetic_asymmetric"], c["kinetic_symmetric"], c["independent"]
    assert asym["D_chi2"] < 2.0  # within the data's error bars
    assert ind["D_chi2"] > 5.0
    assert asym["D_rms"] < 0.3 * ind["D_rms"] and asym["D_rms"] < 0.5 * sym["D_rms"]
    held = "log_likelihood_test_nats_per_bin"
    assert asym[held] > sym[held] > ind[held]
    for name in ("raster.png", "delayed_correlations.png", "spike_count.png", "couplings.png"):
        assert is_png(out / name), name
    assert "pairwise" not in c


# ------------------------------------------------------------------------------ bad input
def cli_error(argv, monkeypatch, capsys):
    rc = run_cli(argv, monkeypatch)
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert err.startswith("inverse-ising report: error:") and "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


def test_stray_value_in_a_raster(tmp_path, monkeypatch, capsys):
    rows = ["0 1 0 0 1 0 0 0 1 0 0 0"] * 4
    rows[2] = "0 1 0 0 1 0 2 0 1 0 0 0"
    path = tmp_path / "raster.txt"
    path.write_text("\n".join(rows) + "\n")
    err = cli_error(["report", str(path), "--out", str(tmp_path / "r")], monkeypatch, capsys)
    assert "2" in err and "raster.txt" in err
    assert not (tmp_path / "r").exists()


def test_truncated_mat_files(tmp_path, monkeypatch, capsys):
    import scipy.io as scipy_io
    X = (np.random.default_rng(0).random((10, 400)) < 0.2).astype(np.uint8)
    full = tmp_path / "full.mat"
    scipy_io.savemat(full, {"bint": X}, do_compression=False)
    raw = full.read_bytes()
    cut = tmp_path / "cut.mat"
    cut.write_bytes(raw[: len(raw) // 2])
    cli_error(["report", str(cut), "--out", str(tmp_path / "r")], monkeypatch, capsys)
    h5py = pytest.importorskip("h5py", reason="h5py, for MATLAB v7.3 files, is not installed (pip install \".[mat]\")")
    v73 = tmp_path / "v73.mat"
    with h5py.File(v73, "w", userblock_size=512) as fh:
        fh.create_dataset("bint", data=X.T)
    with open(v73, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file".ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM")
    cut73 = tmp_path / "cut73.mat"
    cut73.write_bytes(v73.read_bytes()[:900])
    cli_error(["report", str(cut73), "--out", str(tmp_path / "r")], monkeypatch, capsys)
    assert not (tmp_path / "r").exists()


@pytest.mark.filterwarnings("ignore:.*never active")
def test_mismatched_orientation(tmp_path, monkeypatch, capsys):
    X = (np.random.default_rng(1).random((300, 12)) < 0.2).astype(int)  # bins × neurons on disk
    path = tmp_path / "raster.txt"
    np.savetxt(path, X, fmt="%d")
    err = cli_error(["report", str(path), "--out", str(tmp_path / "r")], monkeypatch, capsys)
    assert "orientation" in err
    # a neurons × bins file read as bins × neurons: 300 "neurons" in 12 bins
    np.savetxt(path, X.T, fmt="%d")
    err = cli_error(["report", str(path), "--orientation", "bins-by-neurons", "--out", str(tmp_path / "r")],
                    monkeypatch, capsys)
    assert "orientation" in err
    assert not (tmp_path / "r").exists()


def test_fit_of_the_wrong_size_and_unknown_model(tmp_path, monkeypatch, capsys):
    import inverse_ising as ii

    X = (np.random.default_rng(2).random((8, 600)) < 0.2).astype(int)
    path = tmp_path / "raster.txt"
    np.savetxt(path, X, fmt="%d")
    ii.save_model(tmp_path / "fit.npz", ii.PairwiseIsing(np.zeros(5), np.zeros((5, 5))))
    err = cli_error(["report", str(path), str(tmp_path / "fit.npz"), "--out", str(tmp_path / "r")], monkeypatch,
                    capsys)
    assert "5 spins" in err and "8 neurons" in err
    with pytest.raises(SystemExit):
        run_cli(["report", str(path), "--models", "pairwise,quadratic", "--out", str(tmp_path / "r")], monkeypatch)


# ------------------------------------------------------------------------------ the output folder
def small_raster(tmp_path):
    X = (np.random.default_rng(3).random((6, 800)) < 0.2).astype(int)
    path = tmp_path / "raster.txt"
    np.savetxt(path, X, fmt="%d")
    return path


def test_output_folder_is_refused_then_replaced_with_force(tmp_path, monkeypatch, capsys):
    path = small_raster(tmp_path)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    args = ["report", str(path), "--models", "independent,kinetic_asymmetric", "--model-bins", "2000",
            "--backend", "numpy", "--no-progress"]
    err = cli_error(args + ["--out", str(mine)], monkeypatch, capsys)
    assert "--force" in err
    err = cli_error(args + ["--out", str(mine), "--force"], monkeypatch, capsys)  # not ours: kept
    assert (mine / "notes.txt").read_text() == "my notes"
    out = tmp_path / "report"
    assert run_cli(args + ["--out", str(out)], monkeypatch) == 0
    first = (out / "summary.json").read_text()
    cli_error(args + ["--out", str(out)], monkeypatch, capsys)
    assert run_cli(args + ["--out", str(out), "--force", "--seed", "5"], monkeypatch) == 0
    assert (out / "summary.json").read_text() != first
    assert sorted(p for p in os.listdir(tmp_path) if p.startswith(".")) == []


def test_an_interrupted_report_leaves_nothing(tmp_path, monkeypatch):
    from inverse_ising import plots

    path = small_raster(tmp_path)

    def broken(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(plots, "plot_spike_count", broken)
    with pytest.raises(KeyboardInterrupt):
        make_report(str(path), out=tmp_path / "report", backend="numpy", models="independent",
                    n_model_samples=2000, log=lambda *a: None)
    assert sorted(os.listdir(tmp_path)) == ["raster.txt"]


def test_check_output_dir_refuses_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError):
        check_output_dir(".", force=True)
    with pytest.raises(InputError):
        check_output_dir(str(tmp_path.parent), force=True)
