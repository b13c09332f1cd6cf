"""Build of inverse_ising: the numpy reference package, the Cython kernels and the CLI.

The fast backends live in ``backends/`` and are installed as ``inverse_ising.backends``.
Every ``backends/*.pyx`` file becomes an extension module of that package.
"""
import glob
import os
import sys

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION = "0.1.0"

openmp = [] if sys.platform == "darwin" else ["-fopenmp"]
extensions = [
    Extension(
        "inverse_ising.backends." + os.path.splitext(os.path.basename(pyx))[0],
        [os.path.relpath(pyx, HERE)],
        depends=[os.path.join("backends", header) for header in ("ars5.h", "msc.h", "portable_exp.h")],
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"] + openmp,
        extra_link_args=openmp,
    )
    for pyx in sorted(glob.glob(os.path.join(HERE, "backends", "*.pyx")))
]

with open(os.path.join(HERE, "README.md"), encoding="utf-8") as fh:
    long_description = fh.read()

extras = {
    "plot": [],  # matplotlib is a core requirement now (the demo's main output is figures); kept so that old commands work
    "mpi": ["mpi4py>=3.1", "mpich"],
    "mat": ["h5py>=3.0"],
    "test": ["pytest>=7", "pytest-benchmark>=4", "h5py>=3.0", "mpi4py>=3.1", "mpich"],
}
extras["all"] = sorted({req for reqs in extras.values() for req in reqs})

setup(
    name="inverse_ising",
    version=VERSION,
    description="Inverse statistical mechanics: learn Ising models and Boltzmann machines from binary data",
    long_description=long_description,
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=["inverse_ising", "inverse_ising.cli", "inverse_ising.backends"],
    package_dir={"inverse_ising.backends": "backends"},
    ext_modules=cythonize(extensions, language_level=3, compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True}),
    install_requires=["numpy>=1.25", "scipy>=1.10", "Pillow>=9", "tqdm>=4.60", "threadpoolctl>=3.1", "matplotlib>=3.6"],
    extras_require=extras,
    entry_points={"console_scripts": ["inverse-ising=inverse_ising.cli:main"]},
    zip_safe=False,
)
