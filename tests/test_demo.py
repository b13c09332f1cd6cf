"""``inverse-ising demo``: both demonstrations end to end, at reduced sizes (the full default run
is timed by hand and recorded in docs/tutorial.md)."""
import json
import os

import numpy as np
import pytest

import inverse_ising.cli as cli
from inverse_ising.cli import demo


def png_ok(path):
    with open(path, "rb") as fh:
        return fh.read(8) == b"\x89PNG\r\n\x1a\n" and os.path.getsize(path) > 500


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")
def test_retina_demo_small(tmp_path, monkeypatch, capsys):
    # a smaller problem and a shorter Boltzmann schedule than the default demo
    monkeypatch.setattr(demo, "DEMO_BOLTZMANN", {"n_chains": 200, "tol": 1.5, "check_noise": 0.5, "max_sweeps": 400,
                                                 "max_iter": 60})
    monkeypatch.setattr(demo, "KINETIC_TRIALS", 20)
    monkeypatch.setattr(demo, "KINETIC_BINS", 300)
    out = tmp_path / "demo"
    rc = cli.main(["demo", "--neurons", "12", "--bins", "4000", "--backend", "numpy", "--no-progress",
                   "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0
    for phrase in ("True against learned", "Validation", "P(K) KL bits", "held-out logL/bin", "finished in"):
        assert phrase in printed
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["n_neurons"] == 12 and s["pairwise_truth"]["generator"] == "retina_pairwise_model"
    assert s["pairwise"]["J_corr"] > 0.4 and s["pairwise"]["h_corr"] > 0.4
    assert s["kinetic"]["J_corr"] > 0.6
    assert s["kinetic"]["asymmetry_learned"] > 0.5  # the learned kinetic couplings are asymmetric, like the truth
    eq, kin = s["equilibrium_comparison"], s["kinetic_comparison"]
    assert eq["pairwise"]["C_rms"] < eq["independent"]["C_rms"]
    assert kin["kinetic_asymmetric"]["D_rms"] < 0.5 * kin["independent"]["D_rms"]
    for f in ("equilibrium/true_vs_learned.png", "equilibrium/spike_count.png", "kinetic/kinetic_true_vs_learned.png",
              "kinetic/delayed_correlations.png"):
        assert png_ok(out / f), f
    assert "equilibrium/index.html" in (out / "index.html").read_text(encoding="utf-8")
    # a second run refuses to overwrite without --force (and says so, exit status 2)
    rc = cli.main(["demo", "--out", str(out)])
    assert rc == 2 and "--force" in capsys.readouterr().err


def test_lattice_demo_recovers_the_parameters(tmp_path, capsys):
    out = tmp_path / "lattice"
    rc = cli.main(["demo", "lattice", "--L", "8", "--bins", "200", "--J", "0.3", "--h", "0.05", "--backend", "numpy",
                   "--no-progress", "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["true"] == {"J": 0.3, "h": 0.05, "h_total": pytest.approx(3.2)}
    b = s["boltzmann"]
    assert abs(b["z_J"]) < 4 and abs(b["z_h"]) < 4
    assert 0 < b["se_J"] < 0.05 and 0 < b["se_h"] < 0.05
    assert abs(s["pseudolikelihood"]["J"] - 0.3) < 4 * s["pseudolikelihood"]["se_J"]
    for f in ("data_samples.png", "learned_model_samples.png", "parameters.png", "samples.png", "learning_curves.png"):
        assert png_ok(out / f), f
    assert "J" in printed and "learned" in printed


def test_demo_default_output_folder(tmp_path, monkeypatch, capsys):
    """Without --out the demo writes demo_output/<which>; an unrelated non-empty folder is never replaced."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo_output" / "lattice").mkdir(parents=True)
    (tmp_path / "demo_output" / "lattice" / "mine.txt").write_text("keep")
    rc = cli.main(["demo", "lattice", "--force", "--L", "4", "--bins", "10"])
    assert rc == 2 and "was not written by inverse-ising" in capsys.readouterr().err
    assert (tmp_path / "demo_output" / "lattice" / "mine.txt").read_text() == "keep"
    assert np.all([not p.startswith(".") for p in os.listdir(tmp_path / "demo_output")])
