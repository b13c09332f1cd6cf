"""The one exception users see for bad input.

Every user-facing entry point validates what it is given and raises :class:`InputError` with one
sentence that names the problem (the file, the shape, the offending value). The CLI prints that
sentence and exits with status 2 instead of showing a traceback.
"""


class InputError(ValueError):
    """Bad input from the user: a message that names the problem, never a deep traceback."""


class FitDivergedError(RuntimeError):
    """A fit whose parameters or moment differences grew without bound (for example, too large a step)."""
