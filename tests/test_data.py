"""Loading binary data as spins: formats, orientation, trials, spike times, bad input."""
import gzip
import json
import warnings

import h5py
import numpy as np
import pytest
import scipy.io

from inverse_ising.data import (
    Dataset,
    load_data,
    load_spike_times,
    read_raster_text,
    save_raster_text,
)
from inverse_ising.errors import InputError
from inverse_ising.io import load_spins, save_spins


def raster01(n_neurons=7, n_bins=50, seed=0, p=0.3):
    """A 0/1 (neurons, bins) raster in which every neuron fires at least once and is silent once."""
    rng = np.random.default_rng(seed)
    x = (rng.random((n_neurons, n_bins)) < p).astype(np.uint8)
    x[:, 0] = 1
    x[:, 1] = 0
    return x


def write_text(path, rows, sep=" ", end="\n"):
    path.write_text("".join(sep.join(str(v) for v in row) + end for row in rows))
    return path


# ---------------------------------------------------------------------------------------------
# text rasters
# ---------------------------------------------------------------------------------------------
def test_text_raster_is_transposed_and_mapped(tmp_path):
    x = raster01()
    ds = load_data(write_text(tmp_path / "bint.txt", x))
    assert ds.spins.dtype == np.int8 and ds.spins.shape == (50, 7)
    np.testing.assert_array_equal(ds.spins, 2 * x.T.astype(np.int8) - 1)
    assert ds.meta["orientation"] == "neurons-by-bins"
    assert "auto" in ds.meta["orientation_note"]
    assert ds.trial_starts.tolist() == [0]
    np.testing.assert_allclose(ds.activity(), x.mean(axis=1))


@pytest.mark.parametrize("sep,end", [("\t", "\n"), (",", "\r\n"), ("  ", "  \n"), (", ", "\n")])
def test_text_raster_separators(tmp_path, sep, end):
    x = raster01(seed=1)
    ds = load_data(write_text(tmp_path / "r.csv", x, sep=sep, end=end))
    np.testing.assert_array_equal(ds.spins, 2 * x.T.astype(np.int8) - 1)


def test_text_raster_signed_line_endings_and_no_final_newline(tmp_path):
    x = raster01(n_neurons=3, n_bins=8, seed=22)
    s = 2 * x.astype(int) - 1
    p = tmp_path / "pm.txt"
    p.write_text("\n".join(" ".join(f"{v:+d}" for v in row) for row in s))  # no final newline
    back, info = read_raster_text(p)
    assert info["parser"] == "fast"
    np.testing.assert_array_equal(back, s)
    np.testing.assert_array_equal(load_data(p).spins, s.T)
    q = tmp_path / "mac.txt"  # classic Mac line endings
    q.write_bytes(b"".join(b" ".join(b"%d" % v for v in row) + b"\r" for row in x))
    np.testing.assert_array_equal(load_data(q).spins, 2 * x.T.astype(np.int8) - 1)
    r = tmp_path / "mixed.txt"
    r.write_text("1 0 1 0 1\n0 -1 1 1 0\n")
    with pytest.raises(InputError, match="line 2, column 2 holds -1.*use one coding"):
        load_data(r)


def test_text_raster_general_parser_pm1_comments_header(tmp_path):
    x = raster01(n_neurons=3, n_bins=9, seed=2)
    s = 2 * x.astype(int) - 1
    body = "# a comment\n" + "".join(" ".join(f"{v:+d}" for v in row) + "\n\n" for row in s)
    p = tmp_path / "pm.txt"
    p.write_text(body)
    ds = load_data(p)
    np.testing.assert_array_equal(ds.spins, s.T)
    # decimals and a header row of names (bins-by-neurons csv)
    q = tmp_path / "h.csv"
    q.write_text("a,b,c\n" + "".join(",".join(f"{v:.1f}" for v in row) + "\n" for row in x.T))
    ds = load_data(q, orientation="bins-by-neurons")
    np.testing.assert_array_equal(ds.spins, 2 * x.T.astype(np.int8) - 1)
    assert ds.meta["header"] == ["a", "b", "c"]


def test_text_raster_round_trip_and_gzip(tmp_path):
    x = raster01(n_neurons=5, n_bins=40, seed=3)
    spins = 2 * x.T.astype(np.int8) - 1
    path = tmp_path / "out.txt"
    save_raster_text(path, spins)
    assert path.read_text().splitlines()[0] == " ".join(str(v) for v in x[0])
    np.testing.assert_array_equal(load_data(path).spins, spins)
    with pytest.raises(InputError, match="force=True"):
        save_raster_text(path, spins)
    ds = Dataset(spins)
    save_raster_text(path, ds, force=True)
    np.testing.assert_array_equal(load_data(path).spins, spins)
    gz = tmp_path / "out.txt.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    np.testing.assert_array_equal(load_data(gz).spins, spins)


def test_fast_and_general_parsers_agree(tmp_path):
    x = raster01(n_neurons=4, n_bins=30, seed=4)
    fast, info = read_raster_text(write_text(tmp_path / "a.txt", x))
    assert info["parser"] == "fast"
    general, info = read_raster_text(write_text(tmp_path / "b.txt", x, sep=" 	 ", end=" # note\n"))
    assert info["parser"] == "general"
    np.testing.assert_array_equal(fast, general)


def test_orientation_auto_rejects_more_neurons_than_bins(tmp_path):
    x = raster01(n_neurons=7, n_bins=50, seed=5)
    p = write_text(tmp_path / "t.txt", x.T)  # one row per bin
    with pytest.raises(InputError, match="orientation='bins-by-neurons'") as err:
        load_data(p)
    assert "50 rows and 7 columns" in str(err.value)
    ds = load_data(p, orientation="bins-by-neurons")
    np.testing.assert_array_equal(ds.spins, 2 * x.T.astype(np.int8) - 1)
    # forcing neurons-by-bins is obeyed even if odd (bins 0 and 1 become constant "neurons")
    with pytest.warns(UserWarning) as record:
        ds = load_data(p, orientation="neurons-by-bins")
    assert any("neurons 1, 16" in str(w.message) for w in record)
    assert ds.spins.shape == (7, 50)
    with pytest.raises(InputError, match="orientation must be one of"):
        load_data(p, orientation="rows")


def test_square_raster_is_ambiguous(tmp_path):
    p = write_text(tmp_path / "sq.txt", raster01(n_neurons=6, n_bins=6, seed=6))
    with pytest.raises(InputError, match="as many neurons as time bins"):
        load_data(p)


def test_trial_length(tmp_path):
    x = raster01(n_neurons=3, n_bins=60, seed=7)
    ds = load_data(write_text(tmp_path / "r.txt", x), trial_length=20)
    assert ds.trial_starts.tolist() == [0, 20, 40]
    trials = list(ds.trials())
    assert len(trials) == 3 and all(t.shape == (20, 3) for t in trials)
    np.testing.assert_array_equal(trials[1], ds.spins[20:40])
    with pytest.raises(InputError, match="not a whole number of trials"):
        load_data(tmp_path / "r.txt", trial_length=7)
    with pytest.raises(InputError, match="trial_length must be a positive integer"):
        load_data(tmp_path / "r.txt", trial_length=0)


# ---------------------------------------------------------------------------------------------
# bad text input
# ---------------------------------------------------------------------------------------------
def test_stray_two_reports_line_and_column(tmp_path):
    x = raster01(n_neurons=4, n_bins=20, seed=8).astype(str)
    x[2, 5] = "2"
    p = write_text(tmp_path / "bad.txt", x)
    with pytest.raises(InputError, match=r"line 3, column 6 holds '2'") as err:
        load_data(p)
    assert "bad.txt" in str(err.value)
    x[2, 5] = "0"
    x[3, 0] = "10"  # multi-digit field: the general parser reports it
    with pytest.raises(InputError, match=r"line 4, column 1 holds '10'"):
        load_data(write_text(tmp_path / "bad2.txt", x))


def test_nan_reports_line_and_column(tmp_path):
    x = raster01(n_neurons=3, n_bins=10, seed=9).astype(str)
    x[1, 3] = "NaN"
    with pytest.raises(InputError, match=r"line 2, column 4 holds 'NaN'"):
        load_data(write_text(tmp_path / "nan.txt", x))
    x[1, 3] = "abc"
    with pytest.raises(InputError, match=r"line 2, column 4 holds 'abc', which is not a number"):
        load_data(write_text(tmp_path / "word.txt", x))


def test_ragged_rows(tmp_path):
    rows = [" ".join("01" * 5), " ".join("01" * 5), " ".join("01" * 4 + "0")]
    p = tmp_path / "ragged.txt"
    p.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match=r"ragged rows: line 3 has 9 values but line 1 has 10"):
        load_data(p)
    q = tmp_path / "ragged.csv"
    q.write_text("0,1,1\n1,,0\n")
    with pytest.raises(InputError, match=r"line 2, column 2 is empty"):
        load_data(q)


@pytest.mark.parametrize("content", ["", "   \n\n", "# only a comment\n"])
def test_empty_file(tmp_path, content):
    p = tmp_path / "empty.txt"
    p.write_text(content)
    with pytest.raises(InputError, match="empty"):
        load_data(p)


def test_all_zero_and_all_one(tmp_path):
    with pytest.raises(InputError, match="every entry is 0"):
        load_data(write_text(tmp_path / "z.txt", np.zeros((3, 10), int)))
    with pytest.raises(InputError, match="every entry is 1"):
        load_data(write_text(tmp_path / "o.txt", np.ones((3, 10), int)))


def test_constant_neurons_warn_by_name(tmp_path):
    x = raster01(n_neurons=5, n_bins=30, seed=10)
    x[1] = 0
    x[3] = 1
    with pytest.warns(UserWarning) as record:
        ds = load_data(write_text(tmp_path / "c.txt", x))
    text = " | ".join(str(w.message) for w in record)
    assert "never active" in text and "neuron 1 (counted from 0)" in text
    assert "always active" in text and "neuron 3 (counted from 0)" in text
    assert ds.spins.shape == (30, 5)


def test_binary_file_and_missing_file_and_unknown_suffix(tmp_path):
    p = tmp_path / "bin.txt"
    p.write_bytes(b"\x00\xff\xfe0 1\n")
    with pytest.raises(InputError, match="not a text raster"):
        load_data(p)
    with pytest.raises(InputError, match="no such file"):
        load_data(tmp_path / "missing.txt")
    q = tmp_path / "data.xyz"
    q.write_text("0 1\n")
    with pytest.raises(InputError, match="unknown file type"):
        load_data(q)


# ---------------------------------------------------------------------------------------------
# numpy files
# ---------------------------------------------------------------------------------------------
def test_npy_round_trip_and_orientation(tmp_path):
    x = raster01(n_neurons=6, n_bins=40, seed=11)
    np.save(tmp_path / "a.npy", x.T)  # (bins, neurons): the numpy convention
    ds = load_data(tmp_path / "a.npy")
    np.testing.assert_array_equal(ds.spins, 2 * x.T.astype(np.int8) - 1)
    assert ds.meta["orientation"] == "bins-by-neurons"
    np.save(tmp_path / "b.npy", x)
    ds = load_data(tmp_path / "b.npy", orientation="neurons-by-bins")
    np.testing.assert_array_equal(ds.spins, 2 * x.T.astype(np.int8) - 1)
    s = 2 * x.T.astype(np.int64) - 1  # ±1 in a wide dtype is accepted too
    np.save(tmp_path / "c.npy", s)
    np.testing.assert_array_equal(load_data(tmp_path / "c.npy").spins, s)
    np.testing.assert_array_equal(load_data(tmp_path / "c.npy", invert=True).spins, -s)


def test_npy_bad_values(tmp_path):
    a = raster01(seed=12).T.astype(float)
    a[4, 2] = np.nan
    np.save(tmp_path / "nan.npy", a)
    with pytest.raises(InputError, match=r"nan.npy.*non-finite.*\(4, 2\)"):
        load_data(tmp_path / "nan.npy")
    a[4, 2] = 0.5
    np.save(tmp_path / "half.npy", a)
    with pytest.raises(InputError, match=r"0\.5.*\(4, 2\)"):
        load_data(tmp_path / "half.npy")
    (tmp_path / "trunc.npy").write_bytes((tmp_path / "half.npy").read_bytes()[:100])
    with pytest.raises(InputError, match="truncated or corrupt"):
        load_data(tmp_path / "trunc.npy")
    np.save(tmp_path / "vec.npy", np.array([0, 1, 1, 0]))
    with pytest.raises(InputError, match="1-D"):
        load_data(tmp_path / "vec.npy")


def test_spins_npz_round_trip_with_trials(tmp_path):
    x = raster01(n_neurons=4, n_bins=60, seed=13)
    ds = Dataset(2 * x.T.astype(np.int8) - 1, trial_starts=[0, 20, 40], meta={"note": "hi"})
    ds.save(tmp_path / "s.npz")
    spins, shape, meta = load_spins(tmp_path / "s.npz")
    assert spins.dtype == np.int8 and shape is None and meta["trial_starts"] == [0, 20, 40]
    back = load_data(tmp_path / "s.npz")
    np.testing.assert_array_equal(back.spins, ds.spins)
    assert back.trial_starts.tolist() == [0, 20, 40] and back.meta["note"] == "hi"
    with pytest.raises(InputError, match="force=True"):
        ds.save(tmp_path / "s.npz")
    with pytest.raises(InputError, match="spins file"):
        load_data(tmp_path / "s.npz", orientation="neurons-by-bins")
    # a spins file written by io.save_spins with a lattice shape
    save_spins(tmp_path / "lat.npz", np.tile([[1, -1, -1, 1]], (3, 1)), shape=(2, 2))
    with pytest.warns(UserWarning) as record:
        lat = load_data(tmp_path / "lat.npz")
    assert any("pixel 1 (row 0, col 1)" in str(w.message) for w in record)
    assert lat.shape == (2, 2) and lat.spins.shape == (3, 4)


def test_plain_npz_candidates_and_variable(tmp_path):
    x = raster01(n_neurons=4, n_bins=30, seed=14)
    np.savez(tmp_path / "one.npz", raster=x.T, trial_length=np.array(10))
    ds = load_data(tmp_path / "one.npz")
    np.testing.assert_array_equal(ds.spins, 2 * x.T.astype(np.int8) - 1)
    assert ds.trial_starts.tolist() == [0, 10, 20] and ds.meta["variable"] == "raster"
    np.savez(tmp_path / "two.npz", a=x.T, b=x.T[:, :2])
    with pytest.raises(InputError, match=r"several candidate arrays \(a \(30, 4\), b \(30, 2\)\).*variable='NAME'"):
        load_data(tmp_path / "two.npz")
    assert load_data(tmp_path / "two.npz", variable="b").spins.shape == (30, 2)
    with pytest.raises(InputError, match="no variable 'c'"):
        load_data(tmp_path / "two.npz", variable="c")
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="not a readable .npz"):
        load_data(tmp_path / "bad.npz")


def test_3d_array_is_trials_first(tmp_path):
    rng = np.random.default_rng(15)
    x = (rng.random((3, 4, 25)) < 0.4).astype(np.uint8)  # (trials, neurons, bins)
    x[:, :, 0], x[:, :, 1] = 1, 0
    np.savez(tmp_path / "t.npz", bint=x)
    ds = load_data(tmp_path / "t.npz", orientation="neurons-by-bins")
    assert ds.spins.shape == (75, 4) and ds.trial_starts.tolist() == [0, 25, 50]
    np.testing.assert_array_equal(list(ds.trials())[2], 2 * x[2].T.astype(np.int8) - 1)


# ---------------------------------------------------------------------------------------------
# MATLAB
# ---------------------------------------------------------------------------------------------
def test_mat_v5_round_trip(tmp_path):
    x = raster01(n_neurons=5, n_bins=40, seed=16)
    scipy.io.savemat(tmp_path / "r.mat", {"bint": x.astype(float), "trial_length": 20.0})
    ds = load_data(tmp_path / "r.mat")
    np.testing.assert_array_equal(ds.spins, 2 * x.T.astype(np.int8) - 1)
    assert ds.meta["format"] == "MATLAB v5" and ds.meta["orientation"] == "neurons-by-bins"
    assert ds.trial_starts.tolist() == [0, 20]
    # the longer axis is time under auto, either way round; logical arrays are fine
    scipy.io.savemat(tmp_path / "t.mat", {"spikes": x.T.astype(bool)})
    ds = load_data(tmp_path / "t.mat")
    np.testing.assert_array_equal(ds.spins, 2 * x.T.astype(np.int8) - 1)
    assert ds.meta["orientation"] == "bins-by-neurons"


def test_mat_v5_several_variables_and_sparse(tmp_path):
    import scipy.sparse

    x = raster01(n_neurons=5, n_bins=40, seed=17)
    scipy.io.savemat(tmp_path / "two.mat", {"bint": x, "other": x[:3]})
    with pytest.raises(InputError, match=r"several candidate arrays.*bint \(5, 40\).*other \(3, 40\).*variable='NAME'"):
        load_data(tmp_path / "two.mat")
    assert load_data(tmp_path / "two.mat", variable="other").spins.shape == (40, 3)
    scipy.io.savemat(tmp_path / "sp.mat", {"raster": scipy.sparse.csc_matrix(x.astype(float))})
    np.testing.assert_array_equal(load_data(tmp_path / "sp.mat").spins, 2 * x.T.astype(np.int8) - 1)


def test_mat_truncated_or_corrupt(tmp_path):
    x = raster01(n_neurons=5, n_bins=400, seed=18)
    scipy.io.savemat(tmp_path / "r.mat", {"bint": x.astype(float)})
    data = (tmp_path / "r.mat").read_bytes()
    (tmp_path / "cut.mat").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.mat.*truncated or corrupt"):
        load_data(tmp_path / "cut.mat")
    (tmp_path / "junk.mat").write_bytes(b"this is not a MATLAB file at all" * 10)
    with pytest.raises(InputError, match="junk.mat"):
        load_data(tmp_path / "junk.mat")
    (tmp_path / "zero.mat").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        load_data(tmp_path / "zero.mat")


def write_mat73(path, variables):
    """A MATLAB v7.3 file: a 512-byte user block with the MAT header, then HDF5 datasets stored
    the way MATLAB does (column-major, so an R x C matrix is an HDF5 dataset of shape (C, R))."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, (value, cls) in variables.items():
            ds = f.create_dataset(name, data=np.asarray(value).T)
            ds.attrs["MATLAB_class"] = np.bytes_(cls)
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    with open(path, "r+b") as fh:
        fh.write(header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM")


def test_mat_v73_round_trip(tmp_path):
    x = raster01(n_neurons=5, n_bins=40, seed=19)
    write_mat73(tmp_path / "r73.mat", {"bint": (x.astype(np.uint8), "logical"), "trial_length": (np.array([[10.0]]), "double")})
    ds = load_data(tmp_path / "r73.mat")
    assert ds.meta["format"] == "MATLAB v7.3"
    assert ds.meta["file_shape"] == [5, 40] and ds.meta["orientation"] == "neurons-by-bins"  # MATLAB's R x C
    np.testing.assert_array_equal(ds.spins, 2 * x.T.astype(np.int8) - 1)
    assert ds.trial_starts.tolist() == [0, 10, 20, 30]
    # several candidates, then choosing one; char arrays are ignored
    write_mat73(tmp_path / "two73.mat", {"a": (x.astype(float), "double"), "b": (x[:2].astype(float), "double"),
                                         "title": (np.frombuffer(b"ab", np.uint8).reshape(1, 2).astype(np.uint16), "char")})
    with pytest.raises(InputError, match="several candidate arrays.*variable='NAME'"):
        load_data(tmp_path / "two73.mat")
    b = load_data(tmp_path / "two73.mat", variable="b", orientation="neurons-by-bins")
    np.testing.assert_array_equal(b.spins, 2 * x[:2].T.astype(np.int8) - 1)
    data = (tmp_path / "r73.mat").read_bytes()
    (tmp_path / "cut73.mat").write_bytes(data[:1024])
    with pytest.raises(InputError, match="cut73.mat.*truncated or corrupt"):
        load_data(tmp_path / "cut73.mat")


# ---------------------------------------------------------------------------------------------
# spike times
# ---------------------------------------------------------------------------------------------
def test_spike_times_binning():
    times = [0.0, 0.05, 0.1, 0.25, 0.3, 0.31, 0.45, 0.2999999999]
    ids = [7, 3, 7, 3, 7, 7, 3, 3]
    ds = load_spike_times(times, ids, bin_width=0.1)
    # bins [0,.1) [.1,.2) [.2,.3) [.3,.4) [.4,.5); columns: neuron 3, neuron 7
    expected = np.array([[1, 1], [-1, 1], [1, -1], [-1, 1], [1, -1]], dtype=np.int8)
    np.testing.assert_array_equal(ds.spins, expected)
    assert ds.meta["neuron_ids"] == [3, 7] and ds.meta["multi_spike_cells"] == 2
    assert ds.meta["bin_width"] == 0.1


def test_spike_times_window_and_neurons():
    with pytest.warns(UserWarning, match="neuron id 5"):
        ds = load_spike_times([0.5, 1.5, 2.5, 3.5, 9.0], [1, 2, 1, 2, 1], bin_width=1.0, t_start=1.0, t_stop=4.0,
                              neurons=[1, 2, 5])
    assert ds.spins.shape == (3, 3) and ds.meta["spikes_dropped"] == 2
    np.testing.assert_array_equal(ds.spins, [[-1, 1, -1], [1, -1, -1], [-1, 1, -1]])
    with pytest.raises(InputError, match="bin_width must be a positive number"):
        load_spike_times([0.1], [1], bin_width=0)
    with pytest.raises(InputError, match="3 spike times but 2 neuron ids"):
        load_spike_times([0.1, 0.2, 0.3], [1, 2], bin_width=0.1)
    with pytest.raises(InputError, match="not in `neurons`"):
        load_spike_times([0.1, 0.2], [1, 9], bin_width=0.1, neurons=[1, 2])


def test_spike_times_text_file(tmp_path):
    p = tmp_path / "spikes.csv"
    p.write_text("time,neuron\n0.0,1\n0.15,2\n0.21,1\n0.35,2\n0.38,1\n")
    ds = load_data(p, bin_width=0.1, trial_length=2)
    np.testing.assert_array_equal(ds.spins, [[1, -1], [-1, 1], [1, -1], [1, 1]])
    assert ds.trial_starts.tolist() == [0, 2]
    q = tmp_path / "bad.txt"
    q.write_text("0.1 1\n0.2 x\n")
    with pytest.raises(InputError, match="line 2, column 2 holds 'x'"):
        load_data(q, bin_width=0.1)
    q.write_text("0.1 1\n0.2 1 5\n")
    with pytest.raises(InputError, match="line 2 has 3 fields"):
        load_data(q, bin_width=0.1)
    q.write_text("0.1 1.5\n")
    with pytest.raises(InputError, match="not an integer"):
        load_data(q, bin_width=0.1)


# ---------------------------------------------------------------------------------------------
# Dataset
# ---------------------------------------------------------------------------------------------
def test_dataset_validation_and_activity():
    ds = Dataset(np.array([[0, 1], [1, 1], [0, 1], [0, 0]]))
    assert ds.spins.dtype == np.int8
    np.testing.assert_allclose(ds.activity(), [0.25, 0.75])
    np.testing.assert_allclose(ds.magnetisation(), [-0.5, 0.5])
    with pytest.raises(InputError, match="2"):
        Dataset(np.array([[0, 2], [1, 1]]))
    with pytest.raises(InputError, match="trial_starts"):
        Dataset(np.ones((4, 2), np.int8), trial_starts=[1, 3])
    with pytest.raises(InputError, match="shape"):
        Dataset(np.ones((4, 6), np.int8), shape=(2, 2))


def test_split_by_trials():
    x = np.where(np.random.default_rng(20).random((100, 3)) < 0.5, 1, -1).astype(np.int8)
    ds = Dataset(x, trial_starts=np.arange(0, 100, 10))
    train, test = ds.split(0.3, seed=1)
    assert train.n_trials == 7 and test.n_trials == 3
    assert train.n_samples == 70 and test.n_samples == 30
    picked = test.meta["split"]["trials"]
    np.testing.assert_array_equal(test.spins, np.concatenate([x[10 * k:10 * k + 10] for k in picked]))
    assert set(picked).isdisjoint(train.meta["split"]["trials"])
    again, _ = ds.split(0.3, seed=1)
    np.testing.assert_array_equal(again.spins, train.spins)
    # one recording: a trailing contiguous block
    tr, te = Dataset(x).split(0.25)
    np.testing.assert_array_equal(te.spins, x[75:])
    assert te.meta["split"]["contiguous"]
    with pytest.raises(InputError, match="test_fraction"):
        ds.split(1.0)


def test_meta_is_json(tmp_path):
    x = raster01(n_neurons=3, n_bins=20, seed=21)
    ds = load_data(write_text(tmp_path / "r.txt", x), trial_length=10)
    json.dumps(ds.meta)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds.save(tmp_path / "r.npz")
    assert load_data(tmp_path / "r.npz").meta["trial_length"] == 10
