"""Benchmarks run with ``pytest benchmarks/ --benchmark-only`` (not part of the test suite)."""
import pytest

from inverse_ising.backend import get_backend
from inverse_ising.errors import InputError


def available_backends():
    names = ["numpy"]
    try:
        get_backend("cython")
        names.append("cython")
    except InputError:
        pass
    return names


@pytest.fixture(params=available_backends())
def backend(request):
    return get_backend(request.param)
