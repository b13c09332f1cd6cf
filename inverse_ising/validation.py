"""Checks shared by every entry point that accepts spins or parameters (SPEC §7)."""
import numpy as np

from .errors import InputError


def as_spins(X, name="spins", allow_binary=True):
    """Return ``X`` as a C-contiguous int8 array of ±1 spins.

    0/1 data are mapped to spins by s = 2x − 1 (SPEC §1) when ``allow_binary``; anything else
    (NaN, 2, 0.5, an empty array) raises :class:`InputError` naming the first offending value.
    """
    arr = np.asarray(X)
    if arr.size == 0:
        raise InputError(f"{name} is empty (shape {arr.shape})")
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InputError(f"{name} contains a non-finite value ({arr[idx]}) at index {idx}")
    values = np.unique(arr)
    if values.size <= 2 and np.all(np.isin(values, (-1, 1))):
        return np.ascontiguousarray(arr, dtype=np.int8)
    if allow_binary and np.all(np.isin(values, (0, 1))):
        return np.ascontiguousarray(2 * arr.astype(np.int8) - 1, dtype=np.int8)
    allowed = "{0, 1} or {-1, +1}" if allow_binary else "{-1, +1}"
    offending = [v for v in values if v not in (-1, 0, 1)] or list(values)
    idx = tuple(int(i) for i in np.argwhere(arr == offending[0])[0])
    raise InputError(
        f"{name} must contain only {allowed}; found {offending[0].item()!r} at index {idx} "
        f"(distinct values: {values[:6].tolist()}{' ...' if values.size > 6 else ''})"
    )


def as_vector(x, n, name):
    """A finite float64 vector of length ``n`` (a scalar is broadcast)."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise InputError(f"{name} must have shape ({n},), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} contains a non-finite value at index {int(np.argmin(np.isfinite(arr)))}")
    return np.ascontiguousarray(arr)


def as_scalar(x, name):
    """A finite Python float."""
    try:
        value = float(x)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a real number, got {x!r}") from None
    if not np.isfinite(value):
        raise InputError(f"{name} must be finite, got {value}")
    return value


def as_coupling_matrix(J, n=None, name="J", symmetric=True, zero_diagonal=True):
    """A finite float64 (N, N) coupling matrix, checked for symmetry and a zero diagonal."""
    arr = np.asarray(J, dtype=float)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise InputError(f"{name} must be a square (N, N) matrix, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise InputError(f"{name} must have shape ({n}, {n}) to match h, got {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i, j = (int(k) for k in np.argwhere(bad)[0])
        raise InputError(f"{name} contains a non-finite value at ({i}, {j})")
    scale = max(1.0, float(np.abs(arr).max()))
    if symmetric:
        asym = np.abs(arr - arr.T)
        if asym.max() > 1e-10 * scale:
            i, j = (int(k) for k in np.unravel_index(np.argmax(asym), asym.shape))
            raise InputError(
                f"{name} must be symmetric for an equilibrium model: {name}[{i},{j}] = {arr[i, j]:g} "
                f"but {name}[{j},{i}] = {arr[j, i]:g} (use KineticIsing for asymmetric couplings)"
            )
        arr = 0.5 * (arr + arr.T)
    if zero_diagonal and np.any(np.diag(arr) != 0):
        i = int(np.argmax(np.diag(arr) != 0))
        raise InputError(f"{name} must have a zero diagonal; {name}[{i},{i}] = {arr[i, i]:g}")
    return np.ascontiguousarray(arr)


def as_positive_int(x, name, minimum=1):
    """An int ≥ ``minimum``."""
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {x!r}")
    return int(x)
