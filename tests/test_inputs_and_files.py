"""Bad input (SPEC §7) for models, files and the CLI; file formats (SPEC §5); atomic writes."""
import json
import os

import numpy as np
import pytest

import inverse_ising as ii
from inverse_ising.cli import main
from inverse_ising.io import atomic_write


# ----------------------------------------------------------------------- models
@pytest.mark.parametrize("J, words", [
    (np.array([[0.0, 1.0], [0.5, 0.0]]), "symmetric"),
    (np.array([[0.3, 0.0], [0.0, 0.0]]), "zero diagonal"),
    (np.array([[0.0, np.nan], [np.nan, 0.0]]), "non-finite"),
    (np.zeros((2, 3)), "square"),
])
def test_pairwise_rejects_bad_couplings(J, words):
    with pytest.raises(ii.InputError, match=words):
        ii.PairwiseIsing(np.zeros(2), J)


def test_pairwise_rejects_mismatched_fields():
    with pytest.raises(ii.InputError, match=r"h must have shape \(3,\)"):
        ii.PairwiseIsing(np.zeros(2), np.zeros((3, 3)))


def test_kinetic_accepts_asymmetric_couplings():
    m = ii.KineticIsing(np.zeros(2), [[0.0, 1.0], [-0.5, 0.0]])
    assert m.J[0, 1] == 1.0 and m.J[1, 0] == -0.5


@pytest.mark.parametrize("kwargs, words", [
    (dict(L=1), "L must be an integer >= 2"),
    (dict(L=4.5), "L must be an integer"),
    (dict(L=4, J=float("inf")), "J must be finite"),
    (dict(L=4, h="x"), "h must be a real number"),
    (dict(L=4, boundary="helical"), "boundary must be one of"),
])
def test_lattice_rejects_bad_parameters(kwargs, words):
    with pytest.raises(ii.InputError, match=words):
        ii.LatticeIsing(**kwargs)


def test_lattice_log_weight_matches_its_pairwise_form():
    rng = np.random.default_rng(0)
    for boundary in ("periodic", "open"):
        m = ii.LatticeIsing(4, 0.3, -0.2, boundary)
        S = (2 * rng.integers(0, 2, (20, 16)) - 1).astype(np.int8)
        np.testing.assert_allclose(m.log_weight(S), m.to_pairwise().log_weight(S), atol=1e-12)
    assert ii.LatticeIsing(4, 0.1, 0.5).h_total == 8.0


@pytest.mark.parametrize("call, words", [
    (lambda: ii.sample(ii.LatticeIsing(5, 0.2), 10), "even L"),
    (lambda: ii.sample(ii.LatticeIsing(4, 0.2), 10, rule="gibbs"), "unknown update rule"),
    (lambda: ii.sample(ii.LatticeIsing(4, 0.2), 10, backend="gpu"), "unknown backend"),
    (lambda: ii.sample(ii.LatticeIsing(4, 0.2), 0), "n_samples must be an integer >= 1"),
    (lambda: ii.sample(ii.LatticeIsing(4, 0.2), 10, seed=-3), "seed must be"),
    (lambda: ii.sample(ii.KineticIsing(np.zeros(2), np.zeros((2, 2))), 10), "LatticeIsing or PairwiseIsing"),
    (lambda: ii.sample(ii.LatticeIsing(4, 0.2), 10, init=np.ones((2, 9))), "initial states have 9 spins"),
    (lambda: ii.simulate(ii.LatticeIsing(4, 0.2), 10), "KineticIsing"),
    (lambda: ii.simulate(ii.KineticIsing(np.zeros(2), np.zeros((2, 2))), 10, s0=[1, 0.5]), "found 0.5"),
])
def test_sampler_bad_arguments(call, words):
    with pytest.raises(ii.InputError, match=words):
        call()


def test_initial_states_from_data_and_binary_mapping():
    data = np.array([[1, 0, 1, 1]])  # 0/1 → −1/+1
    X = ii.sample(ii.PairwiseIsing(np.zeros(4), np.zeros((4, 4))), 4, n_chains=4, burn_in=0, thin=1, init=data, seed=0)
    assert X.shape == (4, 4)


# ----------------------------------------------------------------------- files
def test_spins_round_trip_with_shape_and_meta(tmp_path):
    X = ii.sample(ii.LatticeIsing(4, 0.3), 20, seed=1, burn_in=5)
    path = tmp_path / "data.npz"
    ii.save_spins(path, X, shape=[4, 4], meta={"note": "test"})
    Y, shape, meta = ii.load_spins(path)
    np.testing.assert_array_equal(X, Y)
    assert Y.dtype == np.int8 and shape == (4, 4) and meta["note"] == "test" and "package_version" in meta


@pytest.mark.parametrize("model", [
    ii.LatticeIsing(6, 0.41, 0.02, "open"),
    ii.PairwiseIsing([0.1, -0.2, 0.3], [[0, 0.5, 0], [0.5, 0, -1], [0, -1, 0]]),
    ii.KineticIsing([0.1, -0.2], [[0, 0.5], [-1, 0.2]]),
])
def test_model_round_trip(tmp_path, model):
    path = tmp_path / "model.npz"
    ii.save_model(path, model, meta={"method": "test"}, history={"max_z": np.arange(3.0)})
    loaded, meta, history = ii.load_model(path)
    assert type(loaded) is type(model) and meta["method"] == "test"
    np.testing.assert_array_equal(np.asarray(loaded.J), np.asarray(model.J))
    np.testing.assert_array_equal(np.asarray(loaded.h), np.asarray(model.h))
    np.testing.assert_array_equal(history["max_z"], np.arange(3.0))


def test_spins_file_bad_contents(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, spins=np.array([[1, 2], [1, 1]]))
    with pytest.raises(ii.InputError, match=r"found 2 at index \(0, 1\)"):
        ii.load_spins(bad)
    nan = tmp_path / "nan.npz"
    np.savez(nan, spins=np.array([[1.0, np.nan]]))
    with pytest.raises(ii.InputError, match="non-finite"):
        ii.load_spins(nan)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.ones(3))
    with pytest.raises(ii.InputError, match="no 'spins' array"):
        ii.load_spins(other)
    text = tmp_path / "text.npz"
    text.write_text("not a zip")
    with pytest.raises(ii.InputError, match="is not a spins file"):
        ii.load_spins(text)
    with pytest.raises(ii.InputError, match="does not exist"):
        ii.load_spins(tmp_path / "missing.npz")
    with pytest.raises(ii.InputError, match="is not a model file"):
        ii.load_model(other)


def test_existing_output_needs_force(tmp_path):
    path = tmp_path / "out.npz"
    path.write_bytes(b"precious")
    with pytest.raises(ii.InputError, match="force=True"):
        ii.save_spins(path, np.ones((2, 2)))
    assert path.read_bytes() == b"precious"
    ii.save_spins(path, np.ones((2, 2)), force=True)
    assert ii.load_spins(path)[0].shape == (2, 2)


def test_interrupted_write_leaves_nothing(tmp_path):
    path = tmp_path / "out.npz"
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(path) as tmp:
            with open(tmp, "wb") as fh:
                fh.write(b"half")
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


# ----------------------------------------------------------------------- CLI
COMMANDS = [["sample"], ["sample", "lattice"], ["sample", "pairwise"], ["simulate"], ["simulate", "kinetic"], ["demo"]]


@pytest.mark.parametrize("command", COMMANDS + [[]])
def test_help_on_every_command(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(command + ["--help"])
    assert exit_info.value.code == 0
    assert "usage: inverse-ising" in capsys.readouterr().out


def test_cli_sample_lattice_writes_spins(tmp_path, capsys):
    out = tmp_path / "data.npz"
    assert main(["sample", "lattice", "--L", "8", "--J", "0.3", "-n", "40", "--burn-in", "10",
                 "--backend", "numpy", "--seed", "3", "-o", str(out)]) == 0
    X, shape, meta = ii.load_spins(out)
    assert X.shape == (40, 64) and shape == (8, 8) and meta["seed"] == 3
    assert "wrote 40 samples" in capsys.readouterr().out


def test_cli_simulate_and_sample_from_model_file(tmp_path):
    model_file, series = tmp_path / "kmodel.npz", tmp_path / "series.npz"
    assert main(["simulate", "kinetic", "--random", "6", "-n", "30", "--seed", "1",
                 "-o", str(series), "--save-model", str(model_file)]) == 0
    assert ii.load_spins(series)[0].shape == (30, 6)
    pair = tmp_path / "pair.npz"
    ii.save_model(pair, ii.PairwiseIsing(np.zeros(3), np.zeros((3, 3))))
    assert main(["sample", "pairwise", str(pair), "-n", "5", "--burn-in", "1", "-o", str(tmp_path / "s.npz")]) == 0


@pytest.mark.parametrize("argv, words", [
    (["sample", "lattice", "--L", "5", "-n", "10", "-o", "{tmp}/a.npz"], "even L"),
    (["sample", "pairwise", "{tmp}/missing.npz", "-n", "10", "-o", "{tmp}/a.npz"], "does not exist"),
    (["simulate", "kinetic", "{tmp}/notes.txt", "-n", "10", "-o", "{tmp}/a.npz"], "is not a model file"),
])
def test_cli_errors_are_one_clear_line(tmp_path, capsys, argv, words):
    (tmp_path / "notes.txt").write_text("hello")
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and err.count("\n") == 0 and "Traceback" not in err


@pytest.mark.parametrize("argv", [
    ["sample", "lattice", "--L", "x", "-n", "10", "-o", "a.npz"],
    ["sample", "lattice", "--L", "4", "-n", "-5", "-o", "a.npz"],
    ["sample", "lattice", "--L", "4", "-n", "5"],
    ["sample", "lattice", "--L", "4", "-n", "5", "-o", "a.npz", "--rule", "gibbs"],
    ["bogus"],
])
def test_cli_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_cli_existing_output_refused_without_force(tmp_path, capsys):
    out = tmp_path / "data.npz"
    out.write_bytes(b"keep me")
    argv = ["sample", "lattice", "--L", "4", "-n", "4", "--burn-in", "1", "-o", str(out)]
    assert main(argv) == 2 and out.read_bytes() == b"keep me"
    assert main(argv + ["--force"]) == 0
    meta = json.loads(str(np.load(out)["meta"]))
    assert meta["rule"] == "metropolis"
