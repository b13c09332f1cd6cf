"""The command line as a new user meets it: damaged or foreign input files, outputs that cannot
be written, file permissions, warnings and messages.

A refused command exits with status 2, prints exactly one line on standard error (no traceback),
writes no file and leaves every existing file as it was.
"""
import gzip
import os
import stat
import warnings

import h5py
import numpy as np
import pytest
import scipy.io

from inverse_ising.cli import main
from inverse_ising.errors import InputError
from inverse_ising.io import save_model, save_spins
from inverse_ising.kinetic import fit_kinetic
from inverse_ising.models import KineticIsing, PairwiseIsing
from inverse_ising.report import staged_output_dir


def raster(n_neurons=5, n_bins=400, seed=0, silent=()):
    """A 0/1 raster, one row per neuron; the ``silent`` neurons never fire."""
    x = (np.random.default_rng(seed).random((n_neurons, n_bins)) < 0.3).astype(int)
    x[list(silent)] = 0
    return x


def write_raster(path, x):
    np.savetxt(path, x, fmt="%d")
    return path


def damage(path, start=None, n=200):
    """Flip ``n`` bytes of the file from ``start`` (default: the middle)."""
    raw = bytearray(path.read_bytes())
    start = len(raw) // 2 - n // 2 if start is None else start
    for i in range(start, min(start + n, len(raw))):
        raw[i] ^= 0xA5
    path.write_bytes(bytes(raw))
    return path


def snapshot(folder):
    """{relative path: bytes, or None for a folder} of everything under ``folder``."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for d in dirs:
            out[os.path.relpath(os.path.join(root, d), folder)] = None
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, folder)] = fh.read()
    return out


def cli(argv, capsys):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_refused(argv, capsys, folder, *words, warned=False):
    """Exit 2, one line on stderr containing ``words``, nothing under ``folder`` new or changed.
    ``warned``: the data read first draw warnings (each one line) before that line."""
    before = snapshot(folder)
    rc, _, err = cli(argv, capsys)
    lines = err.strip().splitlines()
    if warned:
        assert lines[0].startswith("inverse-ising: warning: "), err
        lines = [line for line in lines if not line.startswith("inverse-ising: warning: ")]
    assert rc == 2, err
    assert len(lines) == 1 and lines[0].startswith("inverse-ising ") and " error: " in lines[0], err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert snapshot(folder) == before
    return lines[0]


@pytest.fixture
def files(tmp_path):
    """A raster, a pairwise model file and its damaged copy, a kinetic model and its damaged copy."""
    rng = np.random.default_rng(1)
    write_raster(tmp_path / "raster.txt", raster())
    J = rng.normal(0, 0.1, (30, 30))
    save_model(tmp_path / "model.npz", PairwiseIsing(rng.normal(size=30), (J + J.T) / 2 * (1 - np.eye(30))))
    save_model(tmp_path / "kinetic.npz", KineticIsing(rng.normal(size=30), J))
    for name in ("model", "kinetic"):
        (tmp_path / f"bad_{name}.npz").write_bytes((tmp_path / f"{name}.npz").read_bytes())
        damage(tmp_path / f"bad_{name}.npz")
    return tmp_path


# ------------------------------------------------------------------------------------ damaged input
@pytest.mark.parametrize("argv", [
    ["sample", "pairwise", "bad_model.npz", "-n", "10", "-o", "out.npz"],
    ["simulate", "kinetic", "bad_kinetic.npz", "-n", "10", "-o", "out.npz"],
    ["report", "bad_model.npz", "--out", "report"],
    ["report", "raster.txt", "bad_kinetic.npz", "--out", "report"],
    ["fit", "raster.txt", "--init", "bad_model.npz", "--max-iter", "1", "-o", "out.npz"],
])
def test_a_damaged_model_file_is_one_line(files, capsys, monkeypatch, argv):
    monkeypatch.chdir(files)
    line = assert_refused(argv, capsys, files, "damaged or truncated")
    assert line.split(" error: ")[1].startswith("bad_")


def _damaged_inputs(folder):
    """{name: damaged file} in every format the readers take."""
    x = raster()
    out = {}
    save_spins(folder / "spins.npz", 2 * x.T - 1)
    out["spins.npz"] = damage(folder / "spins.npz", n=40)
    np.savez_compressed(folder / "array.npz", data=x.T)
    out["array.npz"] = damage(folder / "array.npz", n=40)
    np.save(folder / "array.npy", x.T)
    out["array.npy"] = damage(folder / "array.npy", start=10, n=50)  # the header
    (folder / "raster.txt.gz").write_bytes(gzip.compress((folder / "raster.txt").read_bytes())[:300])
    out["raster.txt.gz"] = folder / "raster.txt.gz"
    (folder / "binary.txt").write_bytes(bytes(range(256)))
    out["binary.txt"] = folder / "binary.txt"
    scipy.io.savemat(folder / "v5.mat", {"bint": x}, do_compression=True)
    out["v5.mat"] = damage(folder / "v5.mat", n=40)
    with h5py.File(folder / "v73.mat", "w") as f:
        f.create_dataset("bint", data=x.T.astype(float))
    (folder / "v73.mat").write_bytes((folder / "v73.mat").read_bytes()[:1500])
    out["v73.mat"] = folder / "v73.mat"
    from PIL import Image

    Image.fromarray((np.random.default_rng(2).random((32, 32)) * 255).astype(np.uint8)).save(folder / "image.png")
    (folder / "image.png").write_bytes((folder / "image.png").read_bytes()[:200])
    out["image.png"] = folder / "image.png"
    return out


def test_every_reader_names_the_damaged_file_in_one_line(files, capsys, monkeypatch):
    monkeypatch.chdir(files)
    for name, path in _damaged_inputs(files).items():
        line = assert_refused(["fit", path.name, "--method", "pseudolikelihood", "-o", "out.npz"], capsys, files)
        assert path.name in line, line
    assert_refused(["images", "image.png", "-o", "out.npz"], capsys, files, "image.png", "truncated or corrupt")


def test_a_raster_is_not_a_model_file(files, capsys, monkeypatch):
    monkeypatch.chdir(files)
    line = assert_refused(["sample", "pairwise", "raster.txt", "-n", "10", "-o", "out.npz"], capsys, files,
                          "raster.txt is not a model file")
    assert "pickle" not in line


# ------------------------------------------------------------------------------------ outputs
def test_fit_kinetic_on_one_neuron_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_raster(tmp_path / "one.txt", raster(n_neurons=1))
    assert_refused(["fit-kinetic", "one.txt", "-o", "k.npz"], capsys, tmp_path, "1 neuron", "at least 2")


@pytest.mark.parametrize("argv, words", [
    (["images", "photo.png", "-o", "spins.npz", "--png", "missing/preview.png"], "missing does not exist"),
    (["images", "photo.png", "-o", "spins.npz", "--png", "preview.jpg"], "must be named *.png"),
    (["images", "photo.png", "-o", "spins.txt"], "must be named *.npz"),
    (["images", "photo.png", "-o", "old.npz"], "already exists"),
    (["fit", "raster.txt", "--method", "pseudolikelihood", "-o", "out.txt"], "must be named *.npz"),
    (["fit", "raster.txt", "--method", "pseudolikelihood", "-o", "old.npz"], "already exists; pass --force"),
    (["fit", "raster.txt", "-o", "out.npz", "--checkpoint", "missing/c.npz"], "missing does not exist"),
    (["fit-kinetic", "raster.txt", "-o", "out.zip"], "must be named *.npz"),
    (["fit-kinetic", "raster.txt", "-o", "old.npz"], "already exists"),
    (["sample", "lattice", "--L", "4", "-n", "5", "-o", "missing/s.npz"], "missing does not exist"),
    (["sample", "lattice", "--L", "4", "-n", "5", "-o", "old.npz"], "already exists"),
    (["sample", "lattice", "--L", "4", "-n", "5", "-o", "s.dat"], "must be named *.npz"),
    (["simulate", "kinetic", "--random", "4", "-n", "5", "-o", "s.npz", "--save-model", "m.txt"], "*.npz"),
    (["simulate", "kinetic", "--random", "4", "-n", "5", "-o", "s.npz", "--save-model", "old.npz"], "already exists"),
    (["simulate", "kinetic", "--random", "4", "-n", "5", "-o", "s.npz", "--save-model", "s.npz"], "same file"),
    (["report", "raster.txt", "--out", "missing/report"], "missing does not exist"),
    (["report", "raster.txt", "--out", "full"], "not empty"),
    (["demo", "--out", "missing/demo"], "missing does not exist"),
])
def test_outputs_are_checked_before_any_work(tmp_path, capsys, monkeypatch, argv, words):
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    write_raster(tmp_path / "raster.txt", raster())
    Image.fromarray((np.random.default_rng(2).random((32, 32)) * 255).astype(np.uint8)).save("photo.png")
    (tmp_path / "old.npz").write_bytes(b"the user's precious file")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    assert_refused(argv, capsys, tmp_path, words)


# ------------------------------------------------------------------------------------ permissions
@pytest.fixture
def umask():
    """Set the process umask for a test and restore it afterwards."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_outputs_have_the_mode_open_gives(tmp_path, capsys, monkeypatch, umask):
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    Image.fromarray((np.random.default_rng(2).random((32, 32)) * 255).astype(np.uint8)).save("photo.png")
    write_raster(tmp_path / "raster.txt", raster())
    umask(0o022)
    assert cli(["images", "photo.png", "-o", "spins.npz", "--png", "preview.png", "--size", "8"], capsys)[0] == 0
    assert cli(["fit", "raster.txt", "--method", "pseudolikelihood", "-o", "fit.npz"], capsys)[0] == 0
    assert cli(["sample", "lattice", "--L", "4", "-n", "5", "--burn-in", "1", "-o", "s.npz"], capsys)[0] == 0
    for name in ("spins.npz", "preview.png", "fit.npz", "s.npz"):
        assert mode(name) == 0o644, name
    with staged_output_dir(tmp_path / "report"):  # the report's and the demo's folders
        pass
    assert mode(tmp_path / "report") == 0o755
    umask(0o077)
    assert cli(["sample", "lattice", "--L", "4", "-n", "5", "--burn-in", "1", "-o", "private.npz"], capsys)[0] == 0
    assert mode("private.npz") == 0o600
    # replacing a file keeps its mode, as writing into it with open() would
    os.chmod("s.npz", 0o640)
    assert cli(["sample", "lattice", "--L", "4", "-n", "5", "--burn-in", "1", "-o", "s.npz", "--force"],
               capsys)[0] == 0
    assert mode("s.npz") == 0o640
    assert not any(name.endswith(".tmp") for name in os.listdir(tmp_path))


# ------------------------------------------------------------------------------------ messages
def test_warnings_are_one_formatted_line_each(tmp_path, capsys, monkeypatch):
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    write_raster(tmp_path / "silent.txt", raster(silent=[2]))
    shown = warnings.showwarning
    rc, _, err = cli(["fit", "silent.txt", "--method", "pseudolikelihood", "-o", "fit.npz"], capsys)
    assert rc == 0
    lines = err.strip().splitlines()
    assert lines and all(line.startswith("inverse-ising: warning: ") for line in lines), err
    assert ".py:" not in err and "neuron 2" in err
    assert warnings.showwarning is shown  # library users keep Python's warnings
    # images with a dark band: 80 pixels never on; the warning names 10 and counts the rest
    rng = np.random.default_rng(3)
    os.mkdir("photos")
    for k in range(4):
        a = (rng.random((64, 64)) * 255).astype(np.uint8)
        a[:20] = 0
        Image.fromarray(a).save(f"photos/{k}.png")
    rc, _, err = cli(["images", "photos", "-o", "spins.npz", "--size", "16"], capsys)
    assert rc == 0
    never = [line for line in err.splitlines() if "never active" in line]
    assert len(never) == 1 and never[0].startswith("inverse-ising: warning: ")
    assert never[0].count("(row ") == 10 and "and 70 more" in never[0]


def test_fit_kinetic_messages_name_the_flags(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_raster(tmp_path / "one_silent.txt", raster(silent=[2]))
    x = raster()
    x[0], x[1] = 0, 1
    write_raster(tmp_path / "two_constant.txt", x)
    line = assert_refused(["fit-kinetic", "one_silent.txt", "-o", "k.npz"], capsys, tmp_path,
                          "neuron 2 (always -1) never changes", "its field has no finite estimate",
                          "pass --l2-h > 0", warned=True)
    assert "l2_h" not in line
    assert_refused(["fit-kinetic", "two_constant.txt", "-o", "k.npz"], capsys, tmp_path,
                   "neurons 0 (always -1) and 1 (always +1) never change over",
                   "their fields have no finite estimate", "--l2-h", warned=True)
    rc, _, err = cli(["fit-kinetic", "two_constant.txt", "-o", "k.npz", "--l2-h", "0.01"], capsys)
    assert rc == 0 and "their fields are held finite only by --l2-h = 0.01" in err
    with pytest.raises(InputError, match="pass l2_h > 0"):  # the library names its keyword
        fit_kinetic(2 * raster(silent=[2]).T - 1)


def test_mean_field_gives_a_constant_unit_the_field_of_the_other_methods(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_raster(tmp_path / "silent.txt", raster(n_bins=3000, silent=[2]))
    h, J = {}, {}
    for method in ("mean_field", "tap", "pseudolikelihood"):
        assert cli(["fit", "silent.txt", "--method", method, "-o", f"{method}.npz"], capsys)[0] == 0
        with np.load(f"{method}.npz") as z:
            h[method], J[method] = z["h"], z["J"]
    for method in ("mean_field", "tap"):
        assert h[method][2] == pytest.approx(h["pseudolikelihood"][2], abs=1e-9)
        assert np.all(J[method][2] == 0) and np.all(J[method][:, 2] == 0)
    assert h["pseudolikelihood"][2] < -3  # −1 − tanh h − 2h/M = 0 with M = 3000
