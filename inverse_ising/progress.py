"""Progress display for long work: a tqdm bar on the root process only.

``progress=None`` shows the bar when standard error is a terminal, True always, False never.
"""
from tqdm.auto import tqdm


def progress_bar(total, desc, progress=None, backend=None, unit="sweep"):
    """A tqdm bar of ``total`` steps, silent on every process but the root."""
    root = backend is None or backend.is_root
    disable = (not root) or (progress is False) or (None if progress is None else False)
    return tqdm(total=total, desc=desc, unit=unit, disable=disable, leave=False, dynamic_ncols=True, mininterval=0.5)
