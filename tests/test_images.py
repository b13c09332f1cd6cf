"""Images to spins (thresholds, crop, invert, folders), spins to PNG, and the `images` command."""
import warnings

import numpy as np
import pytest
from PIL import Image

import inverse_ising.cli as cli
from inverse_ising.data import load_data
from inverse_ising.errors import InputError
from inverse_ising.images import image_to_spins, load_images, otsu_threshold, spins_to_png, tile_spins
from inverse_ising.io import load_spins


def bimodal(seed=0, shape=(64, 64)):
    """Left half dark (mean 60), right half bright (mean 190), Gaussian noise of sd 12."""
    rng = np.random.default_rng(seed)
    img = np.where(np.arange(shape[1]) < shape[1] // 2, 60.0, 190.0)[None, :] + rng.normal(0, 12, shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def gradient(width=256, height=256):
    """Brightness rising from 0 (left) to 255 (right)."""
    return np.tile(np.arange(width, dtype=np.float64) * 255 / (width - 1), (height, 1)).round().astype(np.uint8)


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# ---------------------------------------------------------------------------------------------
# thresholds
# ---------------------------------------------------------------------------------------------
def test_otsu_splits_the_two_modes():
    img = bimodal()
    t = otsu_threshold(img)
    assert 95 < t < 155
    s = image_to_spins(img, size=8, crop=None).reshape(8, 8)
    np.testing.assert_array_equal(s[:, :4], -1)
    np.testing.assert_array_equal(s[:, 4:], 1)


def test_otsu_with_a_gap_cuts_in_the_middle():
    img = np.array([[40] * 10 + [200] * 30], dtype=np.uint8)
    assert otsu_threshold(img) == (40 + 199) // 2
    # unequal class sizes do not move the cut out of the gap
    img = np.concatenate([np.full(5, 10), np.full(95, 100)]).astype(np.uint8)
    assert 10 <= otsu_threshold(img) < 100
    assert otsu_threshold(np.full((4, 4), 77, np.uint8)) == 77  # uniform: nothing above


@pytest.mark.parametrize("threshold", ["mean", "median", 127.5, "127.5"])
def test_gradient_thresholds_split_in_half(threshold):
    s = image_to_spins(gradient(), size=16, crop=None, threshold=threshold).reshape(16, 16)
    np.testing.assert_array_equal(s[:, :8], -1)
    np.testing.assert_array_equal(s[:, 8:], 1)
    assert s.dtype == np.int8 and s.shape == (16, 16)


def test_fixed_threshold_moves_the_cut():
    s = image_to_spins(gradient(), size=16, crop=None, threshold=200).reshape(16, 16)
    # column k of the resized image has mean brightness ≈ 255 (16k + 7.5)/255; > 200 from k = 13
    assert (s[0] == 1).sum() == 3
    with pytest.raises(InputError, match=r"\[0, 255\]"):
        image_to_spins(gradient(), threshold=256)
    with pytest.raises(InputError, match="otsu"):
        image_to_spins(gradient(), threshold="brightest")


def test_resize_averages_area():
    # thin bright lines covering a quarter of the area: mean brightness 64, so dark at 128,
    # whatever the phase of the lines relative to the output pixels (nearest-neighbour sampling
    # would see either only lines or no lines)
    for phase in range(4):
        img = np.zeros((64, 64), np.uint8)
        img[:, phase::4] = 255
        np.testing.assert_array_equal(quiet(image_to_spins, img, size=4, crop=None, threshold=128), -1)
        np.testing.assert_array_equal(quiet(image_to_spins, img, size=4, crop=None, threshold=60), 1)


def test_invert_flips():
    img = bimodal(seed=1)
    np.testing.assert_array_equal(image_to_spins(img, size=8, invert=True), -image_to_spins(img, size=8))


# ---------------------------------------------------------------------------------------------
# crop, modes, files
# ---------------------------------------------------------------------------------------------
def framed():
    """80 wide x 40 high: dark side bands 20 px wide; the central 40x40 square is bright on top,
    dark below."""
    img = np.zeros((40, 80), dtype=np.uint8)
    img[:20, 20:60] = 255
    return img


def test_center_crop_takes_the_central_square():
    s = image_to_spins(framed(), size=4, crop="center", threshold=128).reshape(4, 4)
    np.testing.assert_array_equal(s[:2], 1)
    np.testing.assert_array_equal(s[2:], -1)
    # without a crop the dark bands squeeze in from the sides
    s = image_to_spins(framed(), size=4, crop=None, threshold=128).reshape(4, 4)
    np.testing.assert_array_equal(s[:2], [[-1, 1, 1, -1]] * 2)


def test_crop_box():
    s = image_to_spins(framed(), size=2, crop=(30, 0, 50, 40), threshold=128).reshape(2, 2)
    np.testing.assert_array_equal(s, [[1, 1], [-1, -1]])
    with pytest.warns(UserWarning, match="every pixel is dark"):
        s = image_to_spins(framed(), size=2, crop=(0, 0, 20, 40), threshold=128)
    np.testing.assert_array_equal(s, -1)
    with pytest.raises(InputError, match=r"does not fit inside .* \(80 x 40 pixels\)"):
        image_to_spins(framed(), crop=(0, 0, 81, 40))
    with pytest.raises(InputError, match="four integers"):
        image_to_spins(framed(), crop=(0, 0, 10))
    with pytest.raises(InputError, match="crop must be"):
        image_to_spins(framed(), crop="left")
    with pytest.raises(InputError, match="size must be a positive integer"):
        image_to_spins(framed(), size=0)


def test_rgba_16bit_and_exif(tmp_path):
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[:, :5, 3] = 255  # left half opaque black, right half transparent → white
    s = image_to_spins(Image.fromarray(rgba, "RGBA"), size=2, crop=None, threshold=128)
    np.testing.assert_array_equal(s, [-1, 1, -1, 1])
    wide = (gradient(16, 16).astype(np.uint16) * 200)
    Image.fromarray(wide).save(tmp_path / "g16.png")
    s = image_to_spins(tmp_path / "g16.png", size=2, crop=None, threshold=128)
    np.testing.assert_array_equal(s, [-1, 1, -1, 1])
    # a photo stored sideways with EXIF orientation 6 (rotate 90° clockwise to display)
    img = np.zeros((20, 20), np.uint8)
    img[:10, :] = 255  # stored: top bright → displayed: right bright
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(img).convert("RGB").save(tmp_path / "rot.jpg", exif=exif, quality=95)
    s = image_to_spins(tmp_path / "rot.jpg", size=2, crop=None, threshold=128)
    np.testing.assert_array_equal(s, [-1, 1, -1, 1])


def write_images(folder, n=4, seed=0):
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    names = []
    for k in range(n):
        img = np.where(rng.random((16, 16)) < 0.5, 30, 220).astype(np.uint8)
        img[0, 0], img[0, 1] = 30, 220  # no pixel is constant across images by chance... mostly
        name = f"img{k:02d}.png"
        Image.fromarray(img).save(folder / name)
        names.append(name)
    return names


def test_load_folder_sorted_skips_non_images(tmp_path):
    folder = tmp_path / "photos"
    names = write_images(folder, n=4)
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.png").write_bytes((folder / names[0]).read_bytes()[:40])
    (folder / ".hidden").write_text("ignored")
    with pytest.warns(UserWarning) as record:
        ds = load_images(folder, size=16, crop=None)
    messages = " | ".join(str(w.message) for w in record)
    assert "notes.txt is not an image" in messages and "broken.png" in messages and ".hidden" not in messages
    assert ds.spins.shape == (4, 256) and ds.shape == (16, 16)
    assert [p.rsplit("/", 1)[-1] for p in ds.meta["files"]] == names
    assert sorted(ds.meta["skipped"]) == ["broken.png", "notes.txt"]
    assert ds.trial_starts.tolist() == [0, 1, 2, 3]
    first = image_to_spins(folder / names[0], size=16, crop=None)
    np.testing.assert_array_equal(ds.spins[0], first)
    # the same through load_data, with image options
    ds2 = quiet(load_data, folder, size=16, crop=None)
    np.testing.assert_array_equal(ds2.spins, ds.spins)


def test_load_images_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="empty folder"):
        load_images(empty)
    (empty / "a.txt").write_text("x")
    with pytest.warns(UserWarning), pytest.raises(InputError, match="no readable images"):
        load_images(empty)
    with pytest.raises(InputError, match="no such image file"):
        load_images([tmp_path / "nope.png"])
    with pytest.raises(InputError, match="do not apply to images"):
        load_data(empty, trial_length=3)


def test_list_of_paths_keeps_order(tmp_path):
    names = write_images(tmp_path / "p", n=3, seed=3)
    paths = [tmp_path / "p" / n for n in reversed(names)]
    ds = quiet(load_images, paths, size=4)
    np.testing.assert_array_equal(ds.spins[0], image_to_spins(paths[0], size=4))


# ---------------------------------------------------------------------------------------------
# spins to PNG
# ---------------------------------------------------------------------------------------------
def test_spins_to_png_round_trip(tmp_path):
    rng = np.random.default_rng(4)
    spins = np.where(rng.random((5, 24)) < 0.5, 1, -1).astype(np.int8)
    hw = spins_to_png(spins, tmp_path / "grid.png", shape=(4, 6), scale=3, separator=1)
    picture = np.asarray(Image.open(tmp_path / "grid.png"))
    assert picture.shape == hw == (2 * 12 + 1, 3 * 18 + 2)  # 3 columns, 2 rows of 12 x 18 tiles
    for k in range(5):
        r, c = divmod(k, 3)
        tile = picture[r * 13:r * 13 + 12, c * 19:c * 19 + 18][1::3, 1::3]
        np.testing.assert_array_equal(np.where(tile > 127, 1, -1), spins[k].reshape(4, 6))
    assert (picture[12, :] == 128).all() and (picture[:, 18] == 128).all()  # separators
    assert (picture[13:, 2 * 19:] == 128).all()  # unused sixth cell
    with pytest.raises(InputError, match="force=True"):
        spins_to_png(spins, tmp_path / "grid.png", shape=(4, 6))
    spins_to_png(spins[:1], tmp_path / "grid.png", shape=(4, 6), force=True)


def test_png_back_through_image_to_spins(tmp_path):
    rng = np.random.default_rng(5)
    config = np.where(rng.random(64) < 0.5, 1, -1).astype(np.int8)
    spins_to_png(config, tmp_path / "one.png", scale=5)
    back = image_to_spins(tmp_path / "one.png", size=8, crop=None, threshold=127)
    np.testing.assert_array_equal(back, config)


def test_tile_spins_errors():
    with pytest.raises(InputError, match="not a square"):
        tile_spins(np.ones((2, 10), np.int8))
    with pytest.raises(InputError, match="does not hold"):
        tile_spins(np.ones((2, 10), np.int8), shape=(3, 3))
    with pytest.raises(InputError, match="scale"):
        tile_spins(np.ones((1, 4), np.int8), scale=0)
    with pytest.raises(InputError, match="0/1|-1"):
        tile_spins(np.full((1, 4), 3))


# ---------------------------------------------------------------------------------------------
# the `images` command, through inverse_ising.cli.main
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def main(monkeypatch):
    """cli.main with the `images` command registered (whether or not COMMANDS lists it yet)."""
    if "images" not in cli.COMMANDS:
        monkeypatch.setattr(cli, "COMMANDS", tuple(cli.COMMANDS) + ("images",))
    return cli.main


def test_cli_images(tmp_path, main, capsys):
    folder = tmp_path / "photos"
    write_images(folder, n=3, seed=6)
    out, png = tmp_path / "data.npz", tmp_path / "preview.png"
    argv = ["images", str(folder), "--size", "8", "--threshold", "otsu", "--crop", "none", "-o", str(out),
            "--png", str(png)]
    assert quiet(main, argv) == 0
    assert "wrote 3 images" in capsys.readouterr().out
    spins, shape, meta = load_spins(out)
    assert spins.shape == (3, 64) and shape == (8, 8) and meta["size"] == 8
    assert Image.open(png).size[0] > 8
    ds = quiet(load_data, out)
    assert ds.trial_starts.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(ds.spins[1], image_to_spins(folder / "img01.png", size=8, crop=None))
    # existing outputs: refused without --force (exit status 2), replaced with it
    assert main(argv) == 2
    assert "--force" in capsys.readouterr().err
    assert quiet(main, argv + ["--invert", "--force"]) == 0
    np.testing.assert_array_equal(load_spins(out)[0], -spins)


def test_cli_images_bad_arguments(tmp_path, main, capsys):
    folder = tmp_path / "photos"
    write_images(folder, n=2)
    out = str(tmp_path / "d.npz")
    for bad in (["--threshold", "300"], ["--threshold", "bright"], ["--crop", "1,2,3"], ["--size", "0"],
                ["--crop", "5,5,1,1"]):
        with pytest.raises(SystemExit) as exc:
            main(["images", str(folder), "-o", out] + bad)
        assert exc.value.code == 2
    capsys.readouterr()
    assert main(["images", str(folder), "-o", str(tmp_path / "d.txt")]) == 2
    assert "must be named *.npz" in capsys.readouterr().err
    empty = tmp_path / "none"
    empty.mkdir()
    assert main(["images", str(empty), "-o", out]) == 2
    assert "empty folder" in capsys.readouterr().err
    assert main(["images", str(folder), "--crop", "0,0,500,500", "-o", out]) == 2
    assert "does not fit" in capsys.readouterr().err
    assert not (tmp_path / "d.npz").exists()
