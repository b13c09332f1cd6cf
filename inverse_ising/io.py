"""Spin and model files (SPEC §5), written atomically.

Every output goes to a temporary file in the destination folder and is renamed onto the final
name only when complete, so an interrupted run never leaves a half-written result; an existing
file is replaced only when ``force`` is given.

* spins ``.npz``: ``spins`` int8 (M, N) in {−1, +1}; optional ``shape``; optional ``meta`` (JSON).
* model / fit ``.npz``: ``kind``; ``h``, ``J`` (scalars for the lattice, plus ``L``); ``meta``
  JSON; history arrays under ``history_<name>``.
"""
import contextlib
import json
import os
import tempfile
import zipfile

import numpy as np

from . import __version__  # noqa: F401  (set before the submodules import)
from .errors import InputError
from .models import KineticIsing, LatticeIsing, PairwiseIsing
from .validation import as_spins


@contextlib.contextmanager
def atomic_write(path, force=False):
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    Refuses to replace an existing ``path`` unless ``force``. On any exception (Ctrl-C included)
    the temporary file is removed and ``path`` is left as it was.
    """
    path = os.fspath(path)
    if os.path.exists(path) and not force:
        raise InputError(f"{path} already exists; pass --force (force=True) to overwrite it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"cannot write {path}: folder {folder} does not exist")
    suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=suffix + ".tmp", dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _save_npz(path, arrays, force):
    with atomic_write(path, force) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)


def _open_npz(path):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"{path} does not exist")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path} is not a readable .npz file ({exc})") from None


def _meta(npz, path):
    if "meta" not in npz.files:
        return {}
    try:
        return json.loads(str(npz["meta"]))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: the 'meta' entry is not valid JSON ({exc})") from None


def save_spins(path, spins, shape=None, meta=None, force=False):
    """Write spins (M, N) int8 ±1 with optional ``shape`` (e.g. [L, L]) and ``meta`` dict."""
    spins = as_spins(spins)
    spins = spins.reshape(spins.shape[0], -1)
    arrays = {"spins": spins}
    if shape is not None:
        shape = np.asarray(shape, dtype=np.int64)
        if int(np.prod(shape)) != spins.shape[1]:
            raise InputError(f"shape {shape.tolist()} does not match {spins.shape[1]} spins per configuration")
        arrays["shape"] = shape
    arrays["meta"] = np.array(json.dumps({"package_version": __version__, **(meta or {})}))
    _save_npz(path, arrays, force)


def load_spins(path):
    """Read a spins .npz: returns ``(spins, shape, meta)`` (shape a tuple or None)."""
    with _open_npz(path) as npz:
        if "spins" not in npz.files:
            raise InputError(f"{path} has no 'spins' array (it holds {', '.join(npz.files) or 'nothing'})")
        spins = as_spins(npz["spins"], name=f"{path}: spins")
        if spins.ndim != 2:
            raise InputError(f"{path}: spins must be a 2-D (M, N) array, got shape {spins.shape}")
        shape = tuple(int(k) for k in npz["shape"]) if "shape" in npz.files else None
        return spins, shape, _meta(npz, path)


def save_model(path, model, meta=None, history=None, force=False, extra=None):
    """Write a model (or a fit's model) with its ``meta`` dict (JSON), ``history`` arrays (as
    ``history_<name>``) and ``extra`` arrays (a fit's standard errors, under their own names)."""
    arrays = {"kind": np.array(model.kind), "h": np.asarray(model.h), "J": np.asarray(model.J)}
    if model.kind == "lattice":
        arrays["L"] = np.array(model.L)
        arrays["boundary"] = np.array(model.boundary)
    arrays["meta"] = np.array(json.dumps({"package_version": __version__, **(meta or {})}))
    for name, values in (history or {}).items():
        arrays[f"history_{name}"] = np.asarray(values)
    arrays.update(extra or {})
    _save_npz(path, arrays, force)


def load_model(path):
    """Read a model file: returns ``(model, meta, history)``."""
    with _open_npz(path) as npz:
        missing = {"kind", "h", "J"} - set(npz.files)
        if missing:
            raise InputError(f"{path} is not a model file: missing {', '.join(sorted(missing))}")
        kind = str(npz["kind"])
        if kind == "lattice":
            model = LatticeIsing(int(npz["L"]), float(npz["J"]), float(npz["h"]), str(npz["boundary"]) if "boundary" in npz.files else "periodic")
        elif kind == "pairwise":
            model = PairwiseIsing(npz["h"], npz["J"])
        elif kind == "kinetic":
            model = KineticIsing(npz["h"], npz["J"])
        else:
            raise InputError(f"{path}: unknown model kind {kind!r}")
        history = {name[len("history_"):]: npz[name] for name in npz.files if name.startswith("history_")}
        return model, _meta(npz, path), history
