"""Images to spins and spins to images (Pillow).

Pipeline of :func:`image_to_spins`, in this order:

1. open and apply the EXIF orientation (photos from phones are often stored rotated);
2. convert to 8-bit grayscale ("L": 0.299 R + 0.587 G + 0.114 B; transparent pixels are laid on
   white first; 16-bit and float images are rescaled from their own min–max to 0–255);
3. crop: ``"center"`` takes the largest centred square, ``None`` keeps the whole image (a
   non-square image is then squeezed to a square), a box ``(left, top, right, bottom)`` in pixels
   (right/bottom exclusive, as in Pillow) takes that region;
4. resize to size × size with Pillow's BOX filter: each output pixel is the mean brightness of
   the input pixels it covers (area averaging; no ringing, so a mid-grey output pixel means a
   half-bright area); when enlarging BOX repeats pixels;
5. threshold the resized image: a pixel brighter than the threshold (value > t) is +1, the
   others −1; ``invert=True`` swaps the two.  The threshold is ``"otsu"`` (computed per image
   from its 256-bin histogram), ``"mean"``, ``"median"`` or a number in [0, 255].

Pixel k of the result is (row, col) = divmod(k, size) (row-major, SPEC §1).
"""
import math
import warnings
from pathlib import Path

import numpy as np

from .errors import InputError
from .validation import as_spins

__all__ = ["image_to_spins", "load_images", "spins_to_png", "otsu_threshold", "THRESHOLDS", "RESAMPLING"]

THRESHOLDS = ("otsu", "mean", "median")
RESAMPLING = "BOX"  # Pillow filter used to resize (area averaging)


def otsu_threshold(gray):
    """Otsu's threshold of 8-bit grey levels: the t in 0..254 maximising the between-class
    variance ω₀ω₁(μ₀ − μ₁)² of the split {≤ t} | {> t}.

    When several t reach the maximum (a gap between two modes), the middle of that range is
    returned, so the cut sits halfway between the modes.  A uniform image has no split; its
    single grey level is returned (so no pixel is above it).
    """
    g = np.asarray(gray)
    hist = np.bincount(g.ravel().astype(np.uint8), minlength=256).astype(np.float64)
    total = hist.sum()
    if total == 0:
        raise InputError("cannot compute a threshold of an empty image")
    levels = np.arange(256, dtype=np.float64)
    w0 = np.cumsum(hist)[:-1]  # weight of {<= t}, t = 0..254
    s0 = np.cumsum(hist * levels)[:-1]
    w1 = total - w0
    s1 = (hist * levels).sum() - s0
    valid = (w0 > 0) & (w1 > 0)
    if not valid.any():
        return float(np.flatnonzero(hist)[0])
    between = np.zeros(255)
    between[valid] = w0[valid] * w1[valid] * (s0[valid] / w0[valid] - s1[valid] / w1[valid]) ** 2 / total ** 2
    best = between.max()
    ties = np.flatnonzero(between >= best * (1 - 1e-12))
    return float((ties[0] + ties[-1]) // 2)


class _Unreadable(InputError):
    """A file that is not an image Pillow can decode (load_images skips these)."""


def _open(img_or_path):
    """A Pillow image from a path, a Pillow image or a 2-D/3-D uint8 array; EXIF orientation applied."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if isinstance(img_or_path, Image.Image):
        img, name = img_or_path, "image"
    elif isinstance(img_or_path, np.ndarray):
        arr = img_or_path
        if arr.ndim not in (2, 3) or arr.size == 0:
            raise InputError(f"an image array must be 2-D (grey) or 3-D (RGB), got shape {arr.shape}")
        if arr.dtype != np.uint8:
            arr = _rescale_to_uint8(arr, "image array")
        return Image.fromarray(arr), "image array"
    else:
        path = Path(img_or_path)
        name = str(path)
        if not path.is_file():
            raise InputError(f"{path}: no such image file")
        try:
            img = Image.open(path)
            img.load()
        except UnidentifiedImageError:
            raise _Unreadable(f"{path} is not an image Pillow can read") from None
        except (OSError, ValueError, SyntaxError) as exc:
            from .io import error_text

            raise _Unreadable(f"{path}: cannot read this image; truncated or corrupt? ({error_text(exc)})") from None
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # a malformed EXIF block is no reason to reject the pixels
        pass
    return img, name


def _rescale_to_uint8(arr, name):
    a = np.asarray(arr, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise InputError(f"{name} contains NaN or infinite pixel values")
    lo, hi = a.min(), a.max()
    if hi == lo:
        return np.full(a.shape, 0 if lo <= 0 else 255, dtype=np.uint8)
    return np.round((a - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def _to_gray(img, name):
    """8-bit grayscale: alpha composited on white, wide integer / float modes rescaled."""
    from PIL import Image

    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return Image.fromarray(_rescale_to_uint8(np.asarray(img), name))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return img.convert("L")


def _crop_box(crop, width, height, name):
    if crop is None or (isinstance(crop, str) and crop.lower() == "none"):
        return None
    if isinstance(crop, str):
        if crop.lower() != "center":
            raise InputError(f"crop must be 'center', None or (left, top, right, bottom); got {crop!r}")
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        return (left, top, left + side, top + side)
    try:
        box = tuple(int(v) for v in crop)
        if len(box) != 4 or any(float(v) != int(v) for v in crop):
            raise ValueError
    except (TypeError, ValueError):
        raise InputError(f"crop box must be four integers (left, top, right, bottom); got {crop!r}") from None
    left, top, right, bottom = box
    if not (0 <= left < right <= width and 0 <= top < bottom <= height):
        raise InputError(
            f"crop box {box} does not fit inside {name} ({width} x {height} pixels); need "
            f"0 <= left < right <= {width} and 0 <= top < bottom <= {height}"
        )
    return box


def _threshold_value(gray, threshold, name):
    if isinstance(threshold, str):
        key = threshold.lower()
        if key == "otsu":
            return otsu_threshold(gray)
        if key == "mean":
            return float(gray.mean())
        if key == "median":
            return float(np.median(gray))
        try:
            threshold = float(threshold)
        except ValueError:
            raise InputError(
                f"threshold must be 'otsu', 'mean', 'median' or a number in [0, 255]; got {threshold!r}"
            ) from None
    if isinstance(threshold, bool):
        raise InputError(f"threshold must be 'otsu', 'mean', 'median' or a number in [0, 255]; got {threshold!r}")
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise InputError(f"threshold must be 'otsu', 'mean', 'median' or a number in [0, 255]; got {threshold!r}") from None
    if not (0.0 <= t <= 255.0):
        raise InputError(f"threshold must lie in [0, 255] (8-bit grey levels); got {threshold!r}")
    return t


def _check_size(size):
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise InputError(f"size must be a positive integer number of pixels per side, got {size!r}")
    return int(size)


def _image_to_spins(img_or_path, size, crop, threshold, invert):
    """The pipeline; returns (spins (size*size,) int8, threshold used, info dict)."""
    from PIL import Image

    size = _check_size(size)
    img, name = _open(img_or_path)
    gray = _to_gray(img, name)
    width, height = gray.size
    box = _crop_box(crop, width, height, name)
    if box is not None:
        gray = gray.crop(box)
    gray = gray.resize((size, size), Image.Resampling.BOX)
    pixels = np.asarray(gray, dtype=np.uint8)
    t = _threshold_value(pixels, threshold, name)
    bright = pixels > t
    if not bright.any() or bright.all():
        warnings.warn(
            f"{name}: every pixel is {'dark' if not bright.any() else 'bright'} at threshold {t:g}; "
            f"the configuration is uniform",
            stacklevel=3,
        )
    if invert:
        bright = ~bright
    spins = np.where(bright.ravel(), np.int8(1), np.int8(-1))
    info = {"original_size": [width, height], "crop_box": list(box) if box else None}
    return spins, t, info


def image_to_spins(img_or_path, size=32, crop="center", threshold="otsu", invert=False):
    """One image as a (size*size,) int8 vector of ±1 spins: bright pixel (> threshold) = +1.

    ``img_or_path``: a path, a Pillow image or a uint8 array.  The steps (grayscale, crop,
    BOX resize, threshold) are described in the module docstring.  ``threshold`` is "otsu",
    "mean", "median" or a grey level in [0, 255], applied to the resized image; ``invert=True``
    makes dark pixels +1.
    """
    return _image_to_spins(img_or_path, size, crop, threshold, invert)[0]


def _list_images(paths_or_folder):
    """(files, description, the files named directly rather than found in a folder)."""
    if isinstance(paths_or_folder, (str, Path)):
        p = Path(paths_or_folder)
        if p.is_dir():
            files = sorted((f for f in p.iterdir() if f.is_file() and not f.name.startswith(".")),
                           key=lambda f: f.name)
            if not files:
                raise InputError(f"{p} is an empty folder: no images found")
            return files, str(p), set()
        return [p], str(p), {p}
    files = [Path(f) for f in paths_or_folder]
    if not files:
        raise InputError("no image paths given")
    expanded = []
    for f in files:
        if f.is_dir():
            expanded.extend(sorted((g for g in f.iterdir() if g.is_file() and not g.name.startswith(".")),
                                   key=lambda g: g.name))
        else:
            expanded.append(f)
    return (expanded, ", ".join(str(f) for f in files[:3]) + (" ..." if len(files) > 3 else ""),
            {f for f in files if not f.is_dir()})


def load_images(paths_or_folder, size=32, crop="center", threshold="otsu", invert=False):
    """Several images as one :class:`~inverse_ising.data.Dataset` of shape (size, size).

    ``paths_or_folder``: a folder (its files, sorted by name, not recursive; hidden files
    ignored), one image path, or a list of paths and folders (kept in the order given, folders
    expanded in name order).  Files in a folder that Pillow cannot read are skipped with a
    warning, having none left is an error; a file named directly must be readable.  Each image goes through :func:`image_to_spins` with its own threshold
    (Otsu per image by default).  Every row is an independent sample, so ``trial_starts`` is
    0, 1, …, M−1.  ``meta`` lists the files, the thresholds used and the options.
    """
    from .data import Dataset, warn_constant_units

    size = _check_size(size)
    files, source, named = _list_images(paths_or_folder)
    rows, used, thresholds, skipped, originals = [], [], [], [], []
    for f in files:
        if not f.exists():
            raise InputError(f"{f}: no such image file")
        try:
            s, t, info = _image_to_spins(f, size, crop, threshold, invert)
        except _Unreadable as exc:
            if f in named:
                raise
            skipped.append(f.name)
            warnings.warn(f"{exc}; skipped", stacklevel=2)
            continue
        rows.append(s)
        used.append(str(f))
        thresholds.append(t)
        originals.append(info["original_size"])
    if not rows:
        raise InputError(f"{source}: no readable images among {len(files)} file{'s' if len(files) != 1 else ''}"
                         + (f" (skipped {', '.join(skipped[:5])}{' ...' if len(skipped) > 5 else ''})" if skipped else ""))
    spins = np.vstack(rows)
    meta = {
        "format": "images",
        "files": used,
        "thresholds": thresholds,
        "threshold": threshold if isinstance(threshold, str) else float(threshold),
        "size": size,
        "crop": crop if crop is None or isinstance(crop, str) else [int(v) for v in crop],
        "invert": bool(invert),
        "resampling": RESAMPLING,
        "original_sizes": originals,
        "independent_samples": True,
    }
    if skipped:
        meta["skipped"] = skipped
    if spins.shape[0] > 1:
        warn_constant_units(spins, source=source, shape=(size, size), unit="pixel")
    return Dataset(spins, np.arange(spins.shape[0], dtype=np.int64), (size, size), meta, source)


def tile_spins(spins, shape=None, scale=8, columns=None, separator=1):
    """The uint8 grey image that :func:`spins_to_png` writes: +1 → 255 (white), −1 → 0 (black).

    Configurations are laid out row by row in a grid of ``columns`` (default ⌈√M⌉) tiles, each
    pixel drawn as a ``scale`` × ``scale`` block, tiles separated by ``separator`` pixels of
    mid grey (128); unused grid cells are grey too.
    """
    from .data import Dataset

    if isinstance(spins, Dataset):
        shape = spins.shape if shape is None else shape
        spins = spins.spins
    s = as_spins(spins, name="spins")
    if s.ndim == 1:
        s = s.reshape(1, -1)
    elif s.ndim == 3:
        shape = s.shape[1:] if shape is None else shape
        s = s.reshape(s.shape[0], -1)
    elif s.ndim != 2:
        raise InputError(f"spins must be (N,), (M, N) or (M, H, W), got shape {s.shape}")
    m, n = s.shape
    if shape is None:
        side = math.isqrt(n)
        if side * side != n:
            raise InputError(f"{n} spins per configuration is not a square; give shape=(height, width)")
        shape = (side, side)
    shape = tuple(int(v) for v in shape)
    if len(shape) != 2 or shape[0] * shape[1] != n:
        raise InputError(f"shape {shape} does not hold {n} spins per configuration")
    for value, what in ((scale, "scale"), (separator, "separator")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < (1 if what == "scale" else 0):
            raise InputError(f"{what} must be a {'positive' if what == 'scale' else 'non-negative'} integer, got {value!r}")
    cols = int(columns) if columns else math.ceil(math.sqrt(m))
    if cols < 1:
        raise InputError(f"columns must be a positive integer, got {columns!r}")
    cols = min(cols, m)
    grid_rows = math.ceil(m / cols)
    th, tw = shape[0] * scale, shape[1] * scale
    height = grid_rows * th + (grid_rows - 1) * separator
    width = cols * tw + (cols - 1) * separator
    out = np.full((height, width), 128, dtype=np.uint8)
    tiles = np.where(s > 0, np.uint8(255), np.uint8(0)).reshape(m, shape[0], shape[1])
    tiles = np.repeat(np.repeat(tiles, scale, axis=1), scale, axis=2)
    for k in range(m):
        r, c = divmod(k, cols)
        y, x = r * (th + separator), c * (tw + separator)
        out[y:y + th, x:x + tw] = tiles[k]
    return out


def spins_to_png(spins, path, shape=None, scale=8, force=False, columns=None, separator=1):
    """Write spin configurations as one PNG: white = +1, black = −1.

    ``spins``: (N,), (M, N), (M, H, W) or a Dataset (whose ``shape`` is used).  ``shape`` is
    (H, W) of one configuration (default: square).  Several configurations are tiled in a grid
    (see :func:`tile_spins`).  Written atomically; an existing file is replaced only with
    ``force=True``.  Returns the (height, width) of the picture.
    """
    from PIL import Image

    from .io import atomic_write

    picture = tile_spins(spins, shape=shape, scale=scale, columns=columns, separator=separator)
    with atomic_write(path, force) as tmp:
        Image.fromarray(picture).save(tmp, format="PNG")
    return picture.shape
