"""Binary data as spins: rasters, arrays, MATLAB files, spike times and images (SPEC §1, §5, §7).

Everything here ends in a :class:`Dataset`: an (M, N) int8 array of ±1 spins whose rows are time
bins (or independent samples) and whose columns are neurons (or pixels), plus the row offsets
where independent trials begin.

Conventions
-----------
* 0/1 data become spins by s = 2x − 1 (1 = active neuron / bright pixel); ``invert=True`` gives
  s = 1 − 2x.  Data already in {−1, +1} are taken as spins (``invert`` flips their sign).
* Text rasters are stored one row per neuron and one column per time bin (the layout of the
  salamander ``bint.txt``, 160 × 283041), so they are transposed on reading.
* Lines and columns in messages about text files count from 1 (as editors do); neuron, pixel and
  array indices count from 0 (as numpy does).

See ``docs/data.md`` for the formats and the decisions behind them.
"""
import gzip
import json
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError
from .io import option_name
from .validation import as_spins

__all__ = [
    "Dataset",
    "load_data",
    "load_spike_times",
    "load_spike_times_text",
    "save_raster_text",
    "ORIENTATIONS",
    "TEXT_SUFFIXES",
    "IMAGE_SUFFIXES",
]

ORIENTATIONS = ("auto", "neurons-by-bins", "bins-by-neurons")
TEXT_SUFFIXES = (".txt", ".dat", ".csv", ".tsv")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm")
_MAX_LISTED = 10  # neurons named in a warning before "and k more"


# ----------------------------------------------------------------------------------------------
# Dataset
# ----------------------------------------------------------------------------------------------
@dataclass
class Dataset:
    """Binary data as spins.

    Attributes
    ----------
    spins : (M, N) int8 array in {−1, +1}; rows are time bins or samples, columns neurons/pixels.
    trial_starts : int64 array of the row offsets where independent trials (recordings, repeats,
        images) begin; always starts with 0.  ``[0]`` means one continuous recording.
    shape : the layout of one configuration, e.g. ``(L, L)`` for images, or None.
    meta : free-form, JSON-serialisable description (format, orientation, files, ...).
    source : where the data came from (a path, or "" for arrays).

    0/1 input is accepted and mapped by s = 2x − 1.
    """

    spins: np.ndarray
    trial_starts: np.ndarray = None
    shape: tuple = None
    meta: dict = field(default_factory=dict)
    source: str = ""

    def __post_init__(self):
        spins = self.spins
        if _is_valid_spins(spins):
            spins = np.ascontiguousarray(spins)
        else:
            spins = as_spins(spins, name="spins")
        if spins.ndim == 1:
            spins = spins.reshape(1, -1)
        if spins.ndim != 2:
            raise InputError(f"spins must be a 2-D (samples, units) array, got shape {spins.shape}")
        self.spins = spins
        m, n = spins.shape
        starts = np.zeros(1, dtype=np.int64) if self.trial_starts is None else np.asarray(self.trial_starts)
        if starts.ndim != 1 or starts.size == 0 or starts.dtype.kind not in "iu":
            raise InputError(f"trial_starts must be a non-empty 1-D integer array, got {self.trial_starts!r}")
        starts = starts.astype(np.int64)
        if starts[0] != 0 or np.any(np.diff(starts) <= 0) or starts[-1] >= m:
            raise InputError(
                f"trial_starts must start at 0, increase strictly and stay below the {m} rows; "
                f"got {starts[:8].tolist()}{' ...' if starts.size > 8 else ''}"
            )
        self.trial_starts = starts
        if self.shape is not None:
            shape = tuple(int(s) for s in self.shape)
            if int(np.prod(shape)) != n:
                raise InputError(f"shape {shape} has {int(np.prod(shape))} sites but the spins have {n} columns")
            self.shape = shape
        self.meta = dict(self.meta or {})
        self.source = str(self.source or "")

    # -- sizes -----------------------------------------------------------------------------
    @property
    def n_samples(self):
        """M, the number of rows (time bins or samples)."""
        return self.spins.shape[0]

    @property
    def n_units(self):
        """N, the number of columns (neurons or pixels)."""
        return self.spins.shape[1]

    @property
    def n_trials(self):
        return self.trial_starts.size

    @property
    def trial_lengths(self):
        """Number of rows in each trial."""
        return np.diff(np.append(self.trial_starts, self.n_samples))

    def __len__(self):
        return self.n_samples

    def __repr__(self):
        shape = f", shape={self.shape}" if self.shape else ""
        return (f"Dataset({self.n_samples} x {self.n_units} spins, {self.n_trials} trial"
                f"{'s' if self.n_trials != 1 else ''}{shape}, source={self.source!r})")

    # -- views -----------------------------------------------------------------------------
    def trials(self):
        """Yield the (rows, N) spin array of each trial in order (views, not copies)."""
        ends = np.append(self.trial_starts[1:], self.n_samples)
        for a, b in zip(self.trial_starts, ends):
            yield self.spins[a:b]

    def activity(self):
        """Fraction of rows in which each unit is active (s = +1): a float64 (N,) array.

        This is (1 + ⟨sᵢ⟩)/2, the firing probability per bin of each neuron.
        """
        return np.count_nonzero(self.spins == 1, axis=0) / self.n_samples

    def magnetisation(self):
        """⟨sᵢ⟩ over rows: a float64 (N,) array."""
        return 2.0 * self.activity() - 1.0

    def select_trials(self, indices):
        """A new Dataset holding the given trials (by trial index), in the order given."""
        idx = np.asarray(indices, dtype=np.int64).ravel()
        if idx.size == 0 or idx.min() < 0 or idx.max() >= self.n_trials:
            raise InputError(f"trial indices must lie in [0, {self.n_trials}), got {idx[:8].tolist()}")
        lengths = self.trial_lengths
        pieces = [self.spins[self.trial_starts[i]:self.trial_starts[i] + lengths[i]] for i in idx]
        starts = np.concatenate([[0], np.cumsum(lengths[idx])[:-1]]).astype(np.int64)
        return Dataset(np.concatenate(pieces), starts, self.shape, dict(self.meta), self.source)

    def split(self, test_fraction=0.2, seed=None):
        """Split into (train, test) Datasets by whole trials.

        ``round(test_fraction · n_trials)`` trials (at least one, leaving at least one for
        training) are drawn at random with ``numpy.random.default_rng(seed)``; each part keeps its
        trials in their original order.  A single continuous recording cannot be split by trials:
        it is cut into a leading training block and a trailing test block of
        ``round(test_fraction · M)`` rows (no shuffling, so no time bin leaks across the cut
        except at the boundary itself).  Which rows went where is recorded in ``meta["split"]``.
        """
        f = float(test_fraction)
        if not 0.0 < f < 1.0:
            raise InputError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}")
        if self.n_trials >= 2:
            n_test = min(max(1, int(round(f * self.n_trials))), self.n_trials - 1)
            rng = np.random.default_rng(seed)
            test_idx = np.sort(rng.choice(self.n_trials, size=n_test, replace=False))
            train_idx = np.setdiff1d(np.arange(self.n_trials), test_idx)
            train, test = self.select_trials(train_idx), self.select_trials(test_idx)
            train.meta["split"] = {"part": "train", "trials": train_idx.tolist(), "seed": seed}
            test.meta["split"] = {"part": "test", "trials": test_idx.tolist(), "seed": seed}
            return train, test
        m = self.n_samples
        n_test = int(round(f * m))
        if n_test < 1 or n_test > m - 1:
            raise InputError(f"cannot split {m} rows with test_fraction={f}: one part would be empty")
        cut = m - n_test
        train = Dataset(self.spins[:cut], None, self.shape, dict(self.meta), self.source)
        test = Dataset(self.spins[cut:], None, self.shape, dict(self.meta), self.source)
        train.meta["split"] = {"part": "train", "rows": [0, cut], "contiguous": True}
        test.meta["split"] = {"part": "test", "rows": [cut, m], "contiguous": True}
        return train, test

    # -- saving ----------------------------------------------------------------------------
    def save(self, path, force=False):
        """Write a spins ``.npz`` (SPEC §5) via :func:`inverse_ising.io.save_spins`.

        The trial structure goes into ``meta`` (``trial_starts``, or ``independent_samples`` when
        every row is its own trial) so that :func:`load_data` restores it.
        """
        from .io import save_spins

        meta = dict(self.meta)
        if self.n_trials == self.n_samples and self.n_samples > 1:
            meta["independent_samples"] = True
            meta.pop("trial_starts", None)
        elif self.n_trials > 1:
            meta["trial_starts"] = self.trial_starts.tolist()
        else:
            meta.pop("trial_starts", None)
        if self.source:
            meta.setdefault("source", self.source)
        return save_spins(path, self.spins, shape=self.shape, meta=_jsonable(meta), force=force)


def _is_valid_spins(arr):
    """True for an int8 array already in {−1, +1} (checked without sorting or copying)."""
    if not isinstance(arr, np.ndarray) or arr.dtype != np.int8 or arr.size == 0:
        return False
    return arr.min() >= -1 and arr.max() <= 1 and not np.any(arr == 0)


def _jsonable(obj):
    """A copy of ``obj`` with numpy scalars/arrays turned into plain Python for JSON."""
    return json.loads(json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


# ----------------------------------------------------------------------------------------------
# Value checks shared by the loaders
# ----------------------------------------------------------------------------------------------
def _array_to_spins(arr, name, invert=False):
    """Map a 0/1 or ±1 array (any shape) to int8 spins, checking every value.

    The common case costs a min, a max and one comparison pass; anything else is handed to
    :func:`inverse_ising.validation.as_spins`, which raises an :class:`InputError` naming the
    first offending value and its index.  All-0 / all-1 data raise too (nothing to learn).
    """
    arr = np.asarray(arr)
    if arr.size == 0:
        raise InputError(f"{name} is empty (shape {arr.shape})")
    if arr.dtype == bool:
        x = arr.view(np.uint8)
        kind = "01"
    elif arr.dtype.kind in "iuf":
        with np.errstate(invalid="ignore"):
            lo, hi = arr.min(), arr.max()
        kind = None
        if lo >= 0 and hi <= 1 and (arr.dtype.kind in "iu" or np.all((arr == 0) | (arr == 1))):
            kind = "01"
        elif lo == -1 and hi <= 1 and np.all((arr == -1) | (arr == 1)):
            kind = "pm"
        if kind is None:
            as_spins(arr, name=name)  # raises with the offending value and its index
            raise InputError(f"{name} must contain only {{0, 1}} or {{-1, +1}}")  # pragma: no cover
        x = arr
    else:
        raise InputError(f"{name} must be numeric 0/1 or ±1 data, got dtype {arr.dtype}")
    if kind == "01":
        if not x.any():
            raise InputError(f"{name}: every entry is 0, so no unit is ever active; nothing can be learned")
        if x.all():
            raise InputError(f"{name}: every entry is 1, so every unit is always active; nothing can be learned")
        s = x.astype(np.int8, copy=True)
        s *= 2
        s -= 1
    else:
        s = np.asarray(x, dtype=np.int8).copy()
        if np.all(s == -1):
            raise InputError(f"{name}: every entry is -1, so no unit is ever active; nothing can be learned")
        if np.all(s == 1):
            raise InputError(f"{name}: every entry is +1, so every unit is always active; nothing can be learned")
    if invert:
        np.negative(s, out=s)
    return s, ("0/1 -> s = 2x - 1" if kind == "01" else "+-1 spins") + (", inverted" if invert else "")


def _describe_units(indices, shape, unit, labels=None):
    if labels is not None:
        names = [f"{unit} id {labels[i]}" for i in indices[:_MAX_LISTED]]
    elif shape is not None and len(shape) == 2:
        names = [f"{unit} {i} (row {i // shape[1]}, col {i % shape[1]})" for i in indices[:_MAX_LISTED]]
    else:
        names = [str(int(i)) for i in indices[:_MAX_LISTED]]
        names[0] = f"{unit}{'s' if len(indices) > 1 else ''} {names[0]}"
    more = f" and {len(indices) - _MAX_LISTED} more" if len(indices) > _MAX_LISTED else ""
    return ", ".join(names) + more + ("" if labels is not None else " (counted from 0)")


def warn_constant_units(spins, source="data", shape=None, unit="neuron", labels=None):
    """Warn (``warnings.warn``) naming the columns of ``spins`` that never or always are +1.

    Columns are named by index (from 0; by (row, col) when ``shape`` is 2-D) or by ``labels``.
    Such units have no finite maximum-likelihood field (hᵢ → ∓∞).  Returns the two index arrays
    (never, always).
    """
    active = np.count_nonzero(spins == 1, axis=0)
    never = np.flatnonzero(active == 0)
    always = np.flatnonzero(active == spins.shape[0])
    for idx, what in ((never, "never active (always -1)"), (always, "always active (always +1)")):
        if idx.size:
            warnings.warn(
                f"{source}: {idx.size} {unit}{'s are' if idx.size > 1 else ' is'} {what}: "
                f"{_describe_units(idx, shape, unit, labels)}; a unit like that has no finite "
                f"maximum-likelihood field: remove it or regularise the fit",
                stacklevel=3,
            )
    return never, always


def _check_orientation(orientation):
    if orientation not in ORIENTATIONS:
        raise InputError(f"orientation must be one of {', '.join(ORIENTATIONS)}; got {orientation!r}")


def _orient(arr, orientation, name, native):
    """Put a 2-D (or 3-D: trials first) raw array into (bins, neurons) order.

    ``native`` is the layout assumed under ``orientation="auto"``:

    * ``"neurons-by-bins"`` (text rasters): auto accepts it when rows < columns and raises an
      InputError suggesting ``--orientation`` when there would be at least as many neurons as bins;
    * ``"longer-is-bins"`` (MATLAB): the longer axis is taken to be time, ties raise;
    * ``"bins-by-neurons"`` (numpy arrays, the package's own (M, N) convention): taken as is.

    Returns (array in (…, bins, neurons) order, orientation used, note for meta).
    """
    rows, cols = arr.shape[-2:]
    if orientation == "auto":
        if native == "bins-by-neurons":
            used, note = "bins-by-neurons", "auto: numpy arrays are (samples, units)"
        elif rows < cols:
            used, note = "neurons-by-bins", f"auto: {rows} rows < {cols} columns, so rows are neurons"
        elif native == "longer-is-bins" and rows > cols:
            used, note = "bins-by-neurons", f"auto: {rows} rows > {cols} columns, so rows are time bins"
        else:
            which = "as many neurons as" if rows == cols else "more neurons than"
            raise InputError(
                f"{name} has {rows} rows and {cols} columns; read as one row per neuron that is "
                f"{which} time bins, which is almost certainly the wrong orientation: "
                f"pass {option_name('orientation', 'bins-by-neurons')} if each row is a time bin, or "
                f"{option_name('orientation', 'neurons-by-bins')} if the layout really is one row per neuron"
            )
    else:
        used, note = orientation, "given"
    if used == "neurons-by-bins":
        arr = np.swapaxes(arr, -1, -2)
    return arr, used, note


def _finish(spins_nb, trial_starts, trial_length, source, meta, shape=None, unit="neuron", labels=None):
    """Apply trial_length, warn about constant units and build the Dataset."""
    m = spins_nb.shape[0]
    if trial_length is not None:
        if isinstance(trial_length, bool) or not isinstance(trial_length, (int, np.integer)) or trial_length < 1:
            raise InputError(f"{option_name('trial_length')} must be a positive integer number of bins, got {trial_length!r}")
        trial_length = int(trial_length)
        if m % trial_length:
            raise InputError(
                f"{source}: {m} time bins are not a whole number of trials of trial_length={trial_length} "
                f"({m // trial_length} trials and {m % trial_length} bins left over)"
            )
        trial_starts = np.arange(0, m, trial_length, dtype=np.int64)
        meta["trial_length"] = trial_length
    warn_constant_units(spins_nb, source=source, shape=shape, unit=unit, labels=labels)
    return Dataset(spins_nb, trial_starts, shape, meta, source)


# ----------------------------------------------------------------------------------------------
# Text rasters
# ----------------------------------------------------------------------------------------------
def _read_bytes(path):
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not a file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if path.suffix.lower() == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, ValueError, zlib.error) as exc:
            from .io import error_text

            raise InputError(f"{path}: not a valid gzip file ({error_text(exc)})") from None
    if raw.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte-order mark from spreadsheet exports
        raw = raw[3:]
    if b"\r" in raw and b"\n" not in raw:  # classic Mac line endings
        raw = raw.replace(b"\r", b"\n")
    return raw


def _line_col(b, pos, nl):
    """1-based line number of byte ``pos`` and the 1-based index of the field it belongs to."""
    line = int(np.searchsorted(nl, pos))  # newlines before pos
    start = int(nl[line - 1]) + 1 if line else 0
    # a field begins at a digit not preceded by a digit
    is_d = (b[start:pos + 1] - np.uint8(ord("0"))) < 10
    begins = is_d.copy()
    begins[1:] &= ~is_d[:-1]
    return line + 1, int(np.count_nonzero(begins))


def _parse_raster_fast(b, path):
    """Scan single-character 0/1 fields (or signed ±1 fields "-1", "+1") with numpy only; return
    the (rows, cols) matrix, uint8 for 0/1 and int8 for ±1.

    Returns None when the file holds anything else (decimals, words, multi-digit numbers,
    comments, signs in odd places, a mix of 0 and −1), which the general parser then reads and,
    if need be, reports.  Memory: a few boolean masks the size of the file; no per-element Python
    objects and no float copies.
    """
    is_digit = (b - np.uint8(ord("0"))) < 10  # uint8 arithmetic wraps below '0'
    n_digit = int(np.count_nonzero(is_digit))
    n_sign = int(np.count_nonzero(b == ord("-"))) + int(np.count_nonzero(b == ord("+")))
    n_known = n_digit + n_sign + sum(int(np.count_nonzero(b == c)) for c in b" \t\r\n,\f\v")
    if n_known != b.size or n_digit == 0:
        return None
    minus = None
    if n_sign:
        sign = (b == ord("-")) | (b == ord("+"))
        # every sign must be followed by a digit and not follow one ("1-1" or "- 1" go to the
        # general parser)
        if sign[-1] or np.any(sign[:-1] & ~is_digit[1:]) or np.any(sign[1:] & is_digit[:-1]):
            return None
        del sign
        minus = np.zeros(b.size, dtype=bool)
        minus[1:] = b[:-1] == ord("-")  # digits preceded by a minus sign
        minus &= is_digit
        if minus.any() and np.any(is_digit & (b == ord("0"))):
            return None  # 0 mixed with -1: the general parser reports where
    # the bint.txt layout: one digit and one separator, alternately ("0 1 0\n")
    regular = minus is None and b.size % 2 == 0 and bool(is_digit[0::2].all()) and not is_digit[1::2].any()
    if not regular and np.any(is_digit[1:] & is_digit[:-1]):  # a multi-digit field such as "10"
        return None
    if regular:
        bad = np.flatnonzero(b[0::2] > ord("1")) * 2 if b[0::2].max() > ord("1") else ()
    else:
        bad = np.flatnonzero(is_digit & (b > ord("1")))
    nl = np.flatnonzero(b == ord("\n"))
    if len(bad):
        line, col = _line_col(b, int(bad[0]), nl)
        raise InputError(
            f"{path}: line {line}, column {col} holds {chr(b[bad[0]])!r}; a raster may contain only 0 and 1"
        )
    # fields per line: sums over [start of line, start of next line); the newline byte itself is
    # neither a digit nor a comma, so it does not count.  A start at the very end of the file (a
    # trailing newline) is dropped.
    starts = np.concatenate([[0], nl + 1])
    valid = starts < b.size
    counts = np.zeros(starts.size, dtype=np.int64)
    counts[valid] = _per_line_counts(is_digit, starts[valid])
    commas = b == ord(",")
    if commas.any():
        ccounts = np.zeros(starts.size, dtype=np.int64)
        ccounts[valid] = _per_line_counts(commas, starts[valid])
        if np.any((ccounts > 0) & (ccounts != counts - 1)):
            return None  # empty or trailing fields: let the general parser say where
    del commas
    lines = np.flatnonzero(counts > 0)
    n_cols = counts[lines[0]]
    ragged = lines[counts[lines] != n_cols]
    if ragged.size:
        first = int(ragged[0])
        raise InputError(
            f"{path}: ragged rows: line {first + 1} has {int(counts[first])} values but line "
            f"{int(lines[0]) + 1} has {int(n_cols)}; every row must have the same number of columns"
        )
    if minus is not None and minus.any():
        signed = (b - np.uint8(ord("0"))).view(np.int8)
        np.negative(signed, out=signed, where=minus)
        values = signed[is_digit]
    else:
        values = b[0::2].copy() if regular else b[is_digit]
        values -= np.uint8(ord("0"))
    return values.reshape(lines.size, int(n_cols))


def _per_line_counts(mask, starts, chunk=1 << 22):
    """Number of True entries of ``mask`` in each [starts[k], starts[k+1]) (last one to the end).

    ``starts`` increases strictly.  Lines are summed in groups spanning at most ``chunk`` bytes so
    that the int64 temporaries of ``reduceat`` stay small; a longer line is counted on its own.
    """
    ends = np.append(starts[1:], mask.size)
    out = np.empty(starts.size, dtype=np.int64)
    u8 = mask.view(np.uint8)
    i, n = 0, starts.size
    while i < n:
        j = max(int(np.searchsorted(ends, starts[i] + chunk, side="right")), i + 1)
        if j == i + 1:
            out[i] = np.count_nonzero(mask[starts[i]:ends[i]])
        else:
            a = starts[i]
            out[i:j] = np.add.reduceat(u8[a:ends[j - 1]], starts[i:j] - a, dtype=np.int64)
        i = j
    return out


_TOKENS = {"0": 0.0, "1": 1.0, "-1": -1.0, "+1": 1.0, "0.0": 0.0, "1.0": 1.0, "-1.0": -1.0}


def _parse_raster_general(raw, path):
    """Line-by-line reader for rasters the fast scanner declines (signs, decimals, NaN, headers,
    comments); every problem is reported with its line and column.  Returns (float matrix, header)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} is not a text raster: byte {raw[exc.start]:#04x} at offset {exc.start} is not text"
        ) from None
    rows, header, width, first_line = [], None, None, None
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.split("#", 1)[0].strip()  # "#" starts a comment
        if not stripped:
            continue
        if "," in stripped:
            fields = [f.strip() for f in stripped.split(",")]
            for col, f in enumerate(fields, start=1):
                if not f:
                    raise InputError(f"{path}: line {lineno}, column {col} is empty (two commas in a row or a trailing comma)")
        else:
            fields = stripped.split()
        try:
            values = np.array([_TOKENS[f] if f in _TOKENS else float(f) for f in fields])
        except ValueError:
            col = next(c for c, f in enumerate(fields, start=1) if not _is_number(f))
            if not rows and header is None and not any(_is_number(f) for f in fields):
                header = fields  # a header row of column names
                continue
            raise InputError(
                f"{path}: line {lineno}, column {col} holds {fields[col - 1]!r}, which is not a number; "
                f"a raster may contain only 0 and 1"
            ) from None
        if width is None:
            width, first_line = values.size, lineno
        elif values.size != width:
            raise InputError(
                f"{path}: ragged rows: line {lineno} has {values.size} values but line {first_line} "
                f"has {width}; every row must have the same number of columns"
            )
        nonfinite = ~np.isfinite(values)
        if nonfinite.any():
            col = int(np.argmax(nonfinite)) + 1
            raise InputError(f"{path}: line {lineno}, column {col} holds {fields[col - 1]!r}; NaN/inf are not allowed in a raster")
        odd = ~np.isin(values, (-1.0, 0.0, 1.0))
        if odd.any():
            col = int(np.argmax(odd)) + 1
            raise InputError(
                f"{path}: line {lineno}, column {col} holds {fields[col - 1]!r}; a raster may contain only 0 and 1 "
                f"(or -1 and +1)"
            )
        rows.append((lineno, values))
    if not rows:
        raise InputError(f"{path} is empty: no data rows found")
    mat = np.vstack([v for _, v in rows])
    has_zero, has_minus = (mat == 0).any(), (mat == -1).any()
    if has_zero and has_minus:
        r = int(np.argwhere(mat == -1)[0][0])
        c = int(np.argwhere(mat[r] == -1)[0][0])
        raise InputError(
            f"{path}: mixes 0/1 and -1/+1 coding (line {rows[r][0]}, column {c + 1} holds -1 while other "
            f"entries are 0); use one coding"
        )
    return mat, header


def _is_number(s):
    try:
        float(s)
    except ValueError:
        return False
    return True


def read_raster_text(path):
    """Read a whitespace- or comma-separated 0/1 (or ±1) text file as it is laid out in the file.

    Returns ``(matrix, info)`` where ``matrix`` is (rows, columns) — uint8 0/1 from the fast path,
    float64 otherwise — and ``info`` a dict (``parser``, and ``header`` when a header row was
    skipped).  The fast path reads the bytes once and picks the '0'/'1' characters with
    ``numpy.frombuffer``: a 160 × 283041 raster takes about a second and ~0.5 GB at peak.
    """
    raw = _read_bytes(path)
    if not raw.strip():
        raise InputError(f"{path} is empty")
    b = np.frombuffer(raw, dtype=np.uint8)
    mat = _parse_raster_fast(b, path)
    if mat is not None:
        return mat, {"parser": "fast"}
    mat, header = _parse_raster_general(raw, path)
    info = {"parser": "general"}
    if header is not None:
        info["header"] = header
    return mat, info


def _load_text_raster(path, orientation, trial_length, invert):
    mat, info = read_raster_text(path)
    name = str(path)
    meta = {"format": "text raster", "file_shape": list(mat.shape)}
    if "header" in info:
        meta["header"] = info["header"]
    oriented, used, note = _orient(mat, orientation, name, native="neurons-by-bins")
    spins, coding = _array_to_spins(oriented, name, invert)
    del oriented, mat
    meta.update(orientation=used, orientation_note=note, coding=coding)
    return _finish(np.ascontiguousarray(spins), None, trial_length, name, meta)


def save_raster_text(path, data, force=False):
    """Write spins (or a :class:`Dataset`) as a 0/1 text raster, one row per neuron and one
    column per time bin, fields separated by one space (the ``bint.txt`` layout).

    The file is written to a temporary name and renamed (:func:`inverse_ising.io.atomic_write`);
    an existing file is only replaced with ``force=True``.  +1 is written as 1 and −1 as 0, so
    ``load_data(path)`` returns the same spins.  Returns the path.
    """
    from .io import atomic_write

    spins = data.spins if isinstance(data, Dataset) else as_spins(data, name="spins")
    if spins.ndim == 1:
        spins = spins.reshape(-1, 1)
    if spins.ndim != 2:
        raise InputError(f"spins must be 2-D (bins, neurons), got shape {spins.shape}")
    m, n = spins.shape
    buf = np.full((n, 2 * m), ord(" "), dtype=np.uint8)
    buf[:, 0::2] = (spins.T > 0).view(np.uint8) + ord("0")
    buf[:, -1] = ord("\n")
    with atomic_write(path, force) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(buf.tobytes())
    return path


# ----------------------------------------------------------------------------------------------
# numpy and MATLAB files
# ----------------------------------------------------------------------------------------------
def _pick_variable(arrays, variable, path, kind):
    """Choose the data array among ``arrays`` (name -> array-like with .shape)."""
    if variable is not None:
        if variable not in arrays:
            raise InputError(f"{path}: no variable {variable!r}; it holds {_listing(arrays)}")
        return variable
    candidates = [k for k, a in arrays.items() if len(a.shape) >= 2 and sum(d > 1 for d in a.shape) >= 2]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise InputError(f"{path}: no 2-D data matrix found in this {kind} file; it holds {_listing(arrays)}")
    raise InputError(
        f"{path} holds several candidate arrays ({_listing({k: arrays[k] for k in candidates})}); "
        f"choose one with {option_name('variable', 'NAME')}"
    )


def _listing(arrays):
    if not arrays:
        return "no arrays"
    return ", ".join(f"{k} {tuple(a.shape)}" for k, a in arrays.items())


def _aux_trials(arrays, used, path):
    """trial_length / trial_starts stored beside the data in .npz/.mat files, if any."""
    tl = arrays.get("trial_length")
    if tl is not None and "trial_length" != used:
        tl = np.asarray(tl).ravel()
        if tl.size == 1 and float(tl[0]) == int(tl[0]) and tl[0] > 0:
            return int(tl[0]), None
        raise InputError(f"{path}: trial_length must be one positive integer, got {tl[:5].tolist()}")
    ts = arrays.get("trial_starts")
    if ts is not None and "trial_starts" != used:
        return None, np.asarray(ts).ravel().astype(np.int64)
    return None, None


def _load_array(arr, path, varname, orientation, native, trial_length, invert, meta, trial_starts=None):
    name = f"{path}" + (f" (variable {varname!r})" if varname else "")
    arr = np.asarray(arr)
    if arr.ndim == 1:
        raise InputError(
            f"{name} is 1-D (shape {arr.shape}); give a 2-D (bins, neurons) array — for one neuron use shape (bins, 1)"
        )
    if arr.ndim > 3:
        raise InputError(f"{name} has shape {arr.shape}; expected 2-D (bins, neurons) or 3-D (trials, bins, neurons)")
    spins, coding = _array_to_spins(arr, name, invert)  # indices in errors refer to the file's layout
    spins, used, note = _orient(spins, orientation, name, native)
    meta.update(file_shape=list(arr.shape), orientation=used, orientation_note=note, coding=coding)
    if varname:
        meta["variable"] = varname
    if spins.ndim == 3:
        n_trials, t_len = spins.shape[:2]
        meta["trials_from_axis_0"] = n_trials
        spins = spins.reshape(n_trials * t_len, spins.shape[2])
        trial_starts = np.arange(0, n_trials * t_len, t_len, dtype=np.int64)
    return _finish(np.ascontiguousarray(spins), trial_starts, trial_length, str(path), meta)


def _load_npy(path, orientation, trial_length, invert):
    from .io import READ_ERRORS, error_text

    try:
        arr = np.load(path, allow_pickle=False)
    except READ_ERRORS as exc:
        raise InputError(f"{path}: not a readable .npy array (truncated or corrupt? {error_text(exc)})") from None
    return _load_array(arr, path, None, orientation, "bins-by-neurons", trial_length, invert, {"format": "npy"})


def _load_npz(path, orientation, trial_length, invert, variable):
    from .io import load_spins, read_npz

    arrays = read_npz(path)
    is_spins = "spins" in arrays and variable in (None, "spins")
    if is_spins:

        if orientation not in ("auto", "bins-by-neurons"):
            raise InputError(
                f"{path} is a spins file, always (samples, units); orientation={orientation!r} does not apply"
            )
        spins, shape, meta = load_spins(path)
        meta = dict(meta or {})
        if invert:
            spins = -np.asarray(spins, dtype=np.int8)
            meta["inverted_on_load"] = True
        m = np.asarray(spins).shape[0]
        if meta.get("independent_samples"):
            starts = np.arange(m, dtype=np.int64)
        elif "trial_starts" in meta:
            starts = np.asarray(meta["trial_starts"], dtype=np.int64)
        else:
            starts = None
        meta.setdefault("format", "spins npz")
        return _finish(np.asarray(spins, dtype=np.int8), starts, trial_length, str(path), meta,
                       shape=None if shape is None else tuple(shape),
                       unit="pixel" if shape is not None and len(shape) == 2 else "neuron")
    used = _pick_variable(arrays, variable, path, "npz")
    tl, ts = _aux_trials(arrays, used, path)
    return _load_array(arrays[used], path, used, orientation, "bins-by-neurons",
                       trial_length if trial_length is not None else tl, invert, {"format": "npz"}, ts)


_MAT_NUMERIC = {"double", "single", "logical", "int8", "uint8", "int16", "uint16", "int32", "uint32",
                "int64", "uint64"}


def _read_mat_v73(path):
    """Numeric variables of a MATLAB v7.3 (HDF5) file, transposed back to MATLAB's order.

    MATLAB writes column-major arrays, so an R × C matrix appears in HDF5 as a C × R dataset;
    reversing the axes restores R × C.  Sparse matrices (groups with data/ir/jc) are expanded.
    """
    import h5py

    out = {}
    try:
        with h5py.File(path, "r") as f:
            for key in f.keys():
                if key.startswith("#"):
                    continue
                obj = f[key]
                cls = obj.attrs.get("MATLAB_class", b"")
                cls = cls.decode() if isinstance(cls, bytes) else str(cls)
                if isinstance(obj, h5py.Group):
                    if "MATLAB_sparse" in obj.attrs and "ir" in obj and "jc" in obj:
                        from scipy.sparse import csc_matrix

                        nrows = int(obj.attrs["MATLAB_sparse"])
                        jc = obj["jc"][()].astype(np.int64)
                        ir = obj["ir"][()].astype(np.int64)
                        data = obj["data"][()] if "data" in obj else np.ones(ir.size)
                        out[key] = csc_matrix((data, ir, jc), shape=(nrows, jc.size - 1)).toarray()
                    continue
                if cls and cls not in _MAT_NUMERIC:
                    continue
                if obj.dtype.kind not in "biuf" or obj.attrs.get("MATLAB_empty", 0):
                    continue
                out[key] = np.asarray(obj[()]).transpose()
    except (OSError, RuntimeError, KeyError, ValueError) as exc:  # what h5py raises on damaged files
        from .io import error_text

        raise InputError(f"{path}: cannot read this MATLAB v7.3 (HDF5) file; truncated or corrupt? ({error_text(exc)})") from None
    return out


def _read_mat_v5(path):
    import scipy.io
    import scipy.sparse

    try:
        raw = scipy.io.loadmat(path, squeeze_me=False, mat_dtype=False)
    except NotImplementedError as exc:  # v7.3 without an HDF5 signature h5py recognises
        raise InputError(f"{path}: unsupported MATLAB file ({exc})") from None
    except Exception as exc:  # scipy raises many types (ValueError, TypeError, OSError, zlib.error)
        from .io import error_text

        raise InputError(f"{path}: cannot read this MATLAB file; truncated or corrupt? ({error_text(exc)})") from None
    out = {}
    for k, v in raw.items():
        if k.startswith("__"):
            continue
        if scipy.sparse.issparse(v):
            v = v.toarray()
        if isinstance(v, np.ndarray) and v.dtype.kind in "biuf":
            out[k] = v
    return out


def _load_mat(path, orientation, trial_length, invert, variable):
    import h5py

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty")
    if h5py.is_hdf5(str(path)):
        arrays, version = _read_mat_v73(path), "7.3"
    else:
        arrays, version = _read_mat_v5(path), "5"
    used = _pick_variable(arrays, variable, path, "MATLAB")
    tl, ts = _aux_trials(arrays, used, path)
    return _load_array(arrays[used], path, used, orientation, "longer-is-bins",
                       trial_length if trial_length is not None else tl, invert,
                       {"format": f"MATLAB v{version}"}, ts)


# ----------------------------------------------------------------------------------------------
# Spike times
# ----------------------------------------------------------------------------------------------
def load_spike_times(times, neuron_ids, bin_width, t_start=0.0, t_stop=None, neurons=None,
                     trial_length=None, source=""):
    """Bin spike times into a raster: row k is [t_start + k·w, t_start + (k+1)·w), w = bin_width.

    A neuron is active (+1) in a bin holding at least one of its spikes, −1 otherwise.  Times are
    in any unit, the same as ``bin_width``.  ``t_stop`` (exclusive) defaults to just past the
    last spike; spikes outside [t_start, t_stop) are dropped and counted in ``meta``.  Columns are
    the distinct ``neuron_ids`` in sorted order, or ``neurons`` (an explicit list, which may
    include silent neurons).  Bin indices are floor((t − t_start)/w + 1e-9), so a spike exactly
    on a bin edge falls into the later bin despite rounding.  ``meta`` records the bin width, the
    neuron ids and how many (bin, neuron) cells held more than one spike.
    """
    name = source or "spike times"
    t = np.asarray(times, dtype=float).ravel()
    ids = np.asarray(neuron_ids).ravel()
    if t.size == 0:
        raise InputError(f"{name}: no spikes")
    if ids.size != t.size:
        raise InputError(f"{name}: {t.size} spike times but {ids.size} neuron ids")
    if not np.all(np.isfinite(t)):
        i = int(np.argmin(np.isfinite(t)))
        raise InputError(f"{name}: spike {i} has a non-finite time ({t[i]})")
    try:
        w = float(bin_width)
    except (TypeError, ValueError):
        raise InputError(f"{option_name('bin_width')} must be a positive number, got {bin_width!r}") from None
    if not (np.isfinite(w) and w > 0):
        raise InputError(f"{option_name('bin_width')} must be a positive number, got {bin_width!r}")
    t0 = float(t_start)
    if t_stop is None:
        n_bins = int(np.floor((t.max() - t0) / w + 1e-9)) + 1
        t1 = t0 + n_bins * w
    else:
        t1 = float(t_stop)
        if not t1 > t0:
            raise InputError(f"t_stop ({t1}) must be later than t_start ({t0})")
        n_bins = int(np.ceil((t1 - t0) / w - 1e-9))
    if n_bins < 1:
        raise InputError(f"{name}: no spike at or after t_start={t0}")
    k = np.floor((t - t0) / w + 1e-9).astype(np.int64)
    inside = (k >= 0) & (k < n_bins)
    if t_stop is not None:
        inside &= t < t1
    if neurons is None:
        labels = np.unique(ids)
    else:
        labels = np.asarray(neurons).ravel()
        if np.unique(labels).size != labels.size:
            raise InputError("neurons must not repeat ids")
    order = np.argsort(labels, kind="stable")
    pos = np.searchsorted(labels[order], ids)
    pos = np.clip(pos, 0, labels.size - 1)
    known = labels[order][pos] == ids
    if neurons is not None and np.any(inside & ~known):
        unknown = np.unique(ids[inside & ~known])
        raise InputError(f"{name}: spikes from neuron ids not in `neurons`: {unknown[:_MAX_LISTED].tolist()}")
    keep = inside & known
    col = order[pos[keep]]
    counts = np.zeros((n_bins, labels.size), dtype=np.int32)
    np.add.at(counts, (k[keep], col), 1)
    x = counts > 0
    if not x.any():
        raise InputError(f"{name}: no spikes fall between t_start={t0} and t_stop={t1}")
    spins = np.where(x, np.int8(1), np.int8(-1))
    meta = {
        "format": "spike times",
        "bin_width": w,
        "t_start": t0,
        "t_stop": t1,
        "neuron_ids": labels.tolist(),
        "n_spikes": int(t.size),
        "spikes_dropped": int(t.size - keep.sum()),
        "multi_spike_cells": int(np.count_nonzero(counts > 1)),
    }
    return _finish(spins, None, trial_length, name, meta, labels=labels.tolist())


def load_spike_times_text(path, bin_width, t_start=0.0, t_stop=None, neurons=None, trial_length=None):
    """Read a two-column text/CSV file of spikes — ``time, neuron`` per line (whitespace or comma
    separated, an optional header line, ``#`` comments) — and bin it with :func:`load_spike_times`.
    Neuron ids must be integers."""
    raw = _read_bytes(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not a text file: byte {raw[exc.start]:#04x} at offset {exc.start}") from None
    times, ids = [], []
    seen_data = False
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        fields = [f.strip() for f in s.split(",")] if "," in s else s.split()
        if not seen_data and not any(_is_number(f) for f in fields):
            seen_data = True  # header line
            continue
        seen_data = True
        if len(fields) != 2:
            raise InputError(f"{path}: line {lineno} has {len(fields)} fields; a spike-time file has two: time, neuron")
        for col, f in enumerate(fields, start=1):
            if not _is_number(f):
                raise InputError(f"{path}: line {lineno}, column {col} holds {f!r}, which is not a number")
        times.append(fields[0])
        ids.append(fields[1])
    if not times:
        raise InputError(f"{path} is empty: no spikes found")
    t = np.array(times, dtype=float)
    raw_ids = np.array(ids, dtype=float)
    bad = ~np.isfinite(raw_ids) | (raw_ids != np.round(raw_ids))
    if bad.any():
        raise InputError(f"{path}: neuron id {ids[int(np.argmax(bad))]!r} on spike {int(np.argmax(bad)) + 1} is not an integer")
    return load_spike_times(t, raw_ids.astype(np.int64), bin_width, t_start, t_stop, neurons,
                            trial_length, source=str(path))


# ----------------------------------------------------------------------------------------------
# Dispatcher
# ----------------------------------------------------------------------------------------------
def load_data(path, orientation="auto", trial_length=None, bin_width=None, variable=None, invert=False,
              **image_options):
    """Load binary data from ``path`` as a :class:`Dataset` of ±1 spins, dispatching on the suffix.

    * ``.txt/.dat/.csv/.tsv`` (optionally ``.gz``): a 0/1 raster, one row per neuron and one
      column per time bin, transposed to (bins, neurons).  ``orientation="auto"`` accepts that
      layout when rows < columns and otherwise raises, suggesting ``bins-by-neurons``.  With
      ``bin_width`` the text file is instead read as spike times (two columns: time, neuron).
    * ``.npy`` and ``.npz``: a spins file (key ``spins``, SPEC §5) or a single 2-D array, taken as
      (bins, neurons) under auto; a 3-D array is (trials, bins, neurons).
    * ``.mat``: MATLAB v5 (scipy) or v7.3 (HDF5, h5py); ``variable`` picks the array when there are
      several; under auto the longer axis is taken as time.  A ``trial_length`` or
      ``trial_starts`` variable beside the data sets the trials.
    * images or a folder of images: :func:`inverse_ising.images.load_images` with
      ``image_options`` (size, crop, threshold).

    ``trial_length`` (bins per trial, e.g. 953 for the salamander repeats) sets
    ``trial_starts``.  ``invert=True`` maps 1 → −1.  0/1 data become s = 2x − 1.  Units that never
    or always fire are named in a warning.  Bad input raises :class:`InputError`.
    """
    _check_orientation(orientation)
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file or folder")
    suffixes = [s.lower() for s in p.suffixes]
    suffix = suffixes[-2] if suffixes[-1:] == [".gz"] and len(suffixes) >= 2 else (suffixes[-1] if suffixes else "")
    if p.is_dir() or suffix in IMAGE_SUFFIXES:
        from .images import load_images

        if trial_length is not None or bin_width is not None or variable is not None or orientation != "auto":
            raise InputError(f"{', '.join(map(option_name, ('orientation', 'trial_length', 'bin_width')))} and "
                             f"{option_name('variable')} do not apply to images")
        return load_images(p, invert=invert, **image_options)
    if image_options:
        raise InputError(f"image options ({', '.join(image_options)}) apply only to images, not {p.name}")
    if suffixes[-1:] == [".gz"] and suffix not in TEXT_SUFFIXES:
        raise InputError(f"{p.name}: only text rasters and spike-time files may be gzipped ({', '.join(TEXT_SUFFIXES)} + .gz)")
    if bin_width is not None:
        if suffix not in TEXT_SUFFIXES:
            raise InputError(f"{option_name('bin_width')} applies to spike-time text files (time, neuron); {p.name} is not one")
        if orientation != "auto" or invert or variable is not None:
            raise InputError(f"{option_name('orientation')}, {option_name('invert')} and {option_name('variable')} do not apply "
                             f"to spike-time files")
        return load_spike_times_text(p, bin_width, trial_length=trial_length)
    if variable is not None and suffix not in (".npz", ".mat"):
        raise InputError(f"{option_name('variable', variable)} applies only to .npz and .mat files, not {p.name}")
    if suffix in TEXT_SUFFIXES:
        return _load_text_raster(p, orientation, trial_length, invert)
    if suffix == ".npy":
        return _load_npy(p, orientation, trial_length, invert)
    if suffix == ".npz":
        return _load_npz(p, orientation, trial_length, invert, variable)
    if suffix == ".mat":
        return _load_mat(p, orientation, trial_length, invert, variable)
    raise InputError(
        f"{p.name}: unknown file type {suffix or '(no suffix)'!r}; expected a text raster "
        f"({', '.join(TEXT_SUFFIXES)}), .npy, .npz, .mat or an image ({', '.join(IMAGE_SUFFIXES[:4])}, ...)"
    )
