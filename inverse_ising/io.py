"""Spin and model files (SPEC §5), written atomically.

Every output goes to a temporary file in the destination folder and is renamed onto the final
name only when complete, so an interrupted run never leaves a half-written result; an existing
file is replaced only when ``force`` is given.

* spins ``.npz``: ``spins`` int8 (M, N) in {−1, +1}; optional ``shape``; optional ``meta`` (JSON).
* model / fit ``.npz``: ``kind``; ``h``, ``J`` (scalars for the lattice, plus ``L``); ``meta``
  JSON; history arrays under ``history_<name>``.
"""
import contextlib
import contextvars
import json
import os
import stat
import tempfile
import tokenize
import zipfile
import zlib

import numpy as np

from . import __version__  # noqa: F401  (set before the submodules import)
from .errors import InputError
from .models import KineticIsing, LatticeIsing, PairwiseIsing
from .validation import as_spins


_COMMAND_LINE = contextvars.ContextVar("inverse_ising_command_line", default=False)


def option_name(name, value=None):
    """How a message names the option ``name`` (given ``value``): as the command line's flag
    (``l2_h`` → ``--l2-h``, ``--orientation bins-by-neurons``; a True value is the flag alone)
    while :func:`command_line_names` is in effect, else as the Python keyword (``l2_h``,
    ``orientation='bins-by-neurons'``, ``force=True``)."""
    if _COMMAND_LINE.get():
        flag = "--" + name.replace("_", "-")
        return flag if value is None or value is True else f"{flag} {value}"
    return name if value is None else f"{name}={value!r}"


@contextlib.contextmanager
def command_line_names():
    """Within this block, messages name options by their command-line flags (:func:`option_name`)."""
    token = _COMMAND_LINE.set(True)
    try:
        yield
    finally:
        _COMMAND_LINE.reset(token)


def creation_mode(folder=False):
    """The permission bits a plain ``open()`` (``os.mkdir`` for a ``folder``) gives a new entry:
    0o666 (0o777) less the process umask, e.g. 0o644 (0o755) under umask 022."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if folder else 0o666) & ~mask


def check_output(path, force=False, suffix=None):
    """Raise :class:`InputError` unless ``path`` may be written: named ``*suffix`` (when given),
    not a folder, absent unless ``force``, and inside a folder that exists."""
    path = os.fspath(path)
    if suffix is not None and not path.lower().endswith(suffix):
        raise InputError(f"output file {path} must be named *{suffix}")
    if os.path.isdir(path):
        raise InputError(f"cannot write {path}: it is a folder")
    if os.path.exists(path) and not force:
        raise InputError(f"{path} already exists; pass {option_name('force', True)} to overwrite it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"cannot write {path}: folder {folder} does not exist")


@contextlib.contextmanager
def atomic_write(path, force=False):
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    Refuses to replace an existing ``path`` unless ``force`` (:func:`check_output`). The result
    has the permissions of the file it replaces, or else those of a new file from ``open()``
    (:func:`creation_mode`). On any exception (Ctrl-C included) the temporary file is removed
    and ``path`` is left as it was.
    """
    path = os.fspath(path)
    check_output(path, force)
    mode = stat.S_IMODE(os.stat(path).st_mode) if os.path.exists(path) else creation_mode()
    suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=suffix + ".tmp",
                               dir=os.path.dirname(os.path.abspath(path)))
    try:
        os.fchmod(fd, mode)
        os.close(fd)
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _save_npz(path, arrays, force):
    with atomic_write(path, force) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)


#: What numpy, zipfile, zlib and the tokenizer behind numpy's header parser raise on a damaged file.
READ_ERRORS = (OSError, ValueError, EOFError, SyntaxError, tokenize.TokenError, zipfile.BadZipFile, zlib.error)


def error_text(exc, limit=200):
    """``exc`` as "TypeName: message" on one line, cut to ``limit`` characters."""
    kind = type(exc).__name__ if type(exc).__module__ == "builtins" else f"{type(exc).__module__}.{type(exc).__name__}"
    text = " ".join(f"{kind}: {exc}".split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def read_npz(path, what="a readable .npz archive"):
    """Every array of the ``.npz`` at ``path``, read and decompressed now: ``{name: array}``.

    Raises :class:`InputError` naming the file when it is missing, is not a .npz archive at all
    ("is not ``what``"), or is damaged (a truncated archive, a corrupt compressed entry, a
    malformed array header) — whatever numpy, zipfile or zlib report.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"{path} does not exist")
    if os.path.isdir(path):
        raise InputError(f"{path} is a folder, not {what}")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path} is not {what}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except READ_ERRORS as exc:
        raise InputError(f"{path} is damaged or truncated ({error_text(exc)})") from None


def _meta(npz, path):
    if "meta" not in npz:
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
    npz = read_npz(path, "a spins file (.npz)")
    if "spins" not in npz:
        raise InputError(f"{path} is not a spins file: no 'spins' array (it holds {', '.join(npz) or 'nothing'})")
    spins = as_spins(npz["spins"], name=f"{path}: spins")
    if spins.ndim != 2:
        raise InputError(f"{path}: spins must be a 2-D (M, N) array, got shape {spins.shape}")
    shape = tuple(int(k) for k in npz["shape"]) if "shape" in npz else None
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
    npz = read_npz(path, "a model file (.npz)")
    missing = {"kind", "h", "J"} - set(npz)
    if missing:
        raise InputError(f"{path} is not a model file: missing {', '.join(sorted(missing))}")
    kind = str(npz["kind"])
    if kind == "lattice":
        if "L" not in npz:
            raise InputError(f"{path} is not a model file: a lattice model without 'L'")
        model = LatticeIsing(int(npz["L"]), float(npz["J"]), float(npz["h"]), str(npz["boundary"]) if "boundary" in npz else "periodic")
    elif kind == "pairwise":
        model = PairwiseIsing(npz["h"], npz["J"])
    elif kind == "kinetic":
        model = KineticIsing(npz["h"], npz["J"])
    else:
        raise InputError(f"{path}: unknown model kind {kind!r}")
    history = {name[len("history_"):]: npz[name] for name in npz if name.startswith("history_")}
    return model, _meta(npz, path), history
