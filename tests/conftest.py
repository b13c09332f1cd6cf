"""Session-wide check: the tests run against an installation with the compiled kernels.

The Cython kernels (``inverse_ising.backends._kernels``) exist only in an installation
(``pip install .`` or ``pip install -e .``): in the source tree they live in ``backends/``, which
setup.py installs as ``inverse_ising.backends``. ``python -m pytest`` puts the working directory
first on sys.path, so from the source root of a non-editable install it imports the uninstalled
source tree, where the kernels are missing.

When the kernels do not import, the session stops before collecting anything, with one message.
``INVERSE_ISING_NO_KERNELS=1`` asks for a run of the numpy reference alone: then the session goes
on, and the tests of the compiled kernels skip (``pytest.importorskip`` of the kernel modules,
which nothing else can make fail once this check has passed).
"""
import os

import pytest

OPT_OUT = "INVERSE_ISING_NO_KERNELS"


def pytest_configure(config):
    if os.environ.get(OPT_OUT) == "1":
        return
    try:
        import inverse_ising.backends._kernels  # noqa: F401
    except ImportError as exc:
        import inverse_ising

        pytest.exit(
            f"the compiled kernels are not built ({exc}; inverse_ising is imported from "
            f"{os.path.dirname(inverse_ising.__file__)}): pip install . (or pip install -e .) before running "
            "the tests; `python -m pytest` from the source root of a non-editable install imports the "
            f"uninstalled source tree (run `pytest` instead). {OPT_OUT}=1 runs the tests without the kernels.",
            returncode=pytest.ExitCode.USAGE_ERROR)
