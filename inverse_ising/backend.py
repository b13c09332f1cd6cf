"""The narrow kernel interface every backend supplies, and the registry that picks one (SPEC §3).

Drivers (sampling schedules, learning loops, I/O, CLI) call only the methods of :class:`Backend`
and never branch on a backend's name. A backend supplies

* kernels that update int8 spin arrays in place, vectorised over independent chains:
  ``lattice_sweeps``, ``pairwise_sweeps``, ``kinetic_steps``; each can be driven by an explicit
  array of uniform random numbers (``uniforms``) for the same-randomness checks, otherwise by the
  backend's own generator made by ``make_rng``;
* ``sufficient_statistics`` — Σₘ sᵢ and Σₘ sᵢsⱼ of a batch of states;
* distribution hooks with single-process defaults — how many of the chains this process runs,
  which SeedSequence child it uses, and how arrays are summed or gathered across processes.
  The MPI backend overrides only these and delegates the kernels to the fastest local backend.

Conventions of the ``uniforms`` arrays (u ∈ [0, 1), float64):

* lattice: shape (n_sweeps, C, L, L); site (r, c) of chain k in sweep t uses ``uniforms[t, k, r, c]``;
* pairwise: shape (n_sweeps, C, N); site i of chain k in sweep t uses ``uniforms[t, k, i]``;
* kinetic: shape (n_steps, C, N); spin i of chain k at step t uses ``uniforms[t, k, i]``.

Update rules (``rule``): "metropolis" flips when u < exp(ΔlogP); "glauber" (heat bath) sets
sᵢ = +1 when u < (1 + tanh fᵢ)/2, else −1.
"""
import numpy as np

from .errors import InputError

RULES = ("metropolis", "glauber")


class Backend:
    """Base class: single-process distribution hooks; subclasses supply the kernels."""

    name = "base"

    # ----------------------------------------------------------------- randomness
    def make_rng(self, seed_seq, n_chains):
        """The generator state the kernels of this backend consume, for ``n_chains`` chains."""
        raise NotImplementedError

    # ----------------------------------------------------------------- kernels
    def lattice_sweeps(self, spins, J, h, boundary, rule, n_sweeps, rng=None, uniforms=None):
        """``n_sweeps`` checkerboard sweeps of (C, L, L) int8 ``spins`` in place."""
        raise NotImplementedError

    def pairwise_sweeps(self, spins, h, J, rule, n_sweeps, rng=None, uniforms=None):
        """``n_sweeps`` sequential sweeps (sites 0..N−1 in order) of (C, N) int8 ``spins`` in place."""
        raise NotImplementedError

    def kinetic_steps(self, spins, h, J, n_steps, rng=None, uniforms=None, out=None):
        """``n_steps`` parallel Glauber steps of (C, N) int8 ``spins`` in place; state after step t → ``out[t]``."""
        raise NotImplementedError

    def sufficient_statistics(self, spins):
        """(Σₘ sₘ, Σₘ sₘsₘᵀ) of an (M, N) int8 batch, as float64 (N,) and (N, N)."""
        raise NotImplementedError

    # ----------------------------------------------------------------- distribution hooks
    rank = 0
    size = 1

    @property
    def is_root(self):
        """True on the process that writes outputs and shows progress."""
        return self.rank == 0

    def local_chains(self, n_chains):
        """How many of ``n_chains`` this process runs."""
        return n_chains

    def local_seed(self, seed_seq):
        """The SeedSequence this process draws from."""
        return seed_seq

    def allreduce_sum(self, array):
        """Element-wise sum of ``array`` over processes (identity in one process)."""
        return array

    def gather_rows(self, array):
        """Concatenate the rows of ``array`` from every process (on the root; identity in one process)."""
        return array

    def broadcast(self, obj):
        """The root's ``obj`` on every process."""
        return obj

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}>"


def _numpy_backend():
    from .reference import NumpyBackend

    return NumpyBackend()


def _cython_backend():
    try:
        from .backends.cython_backend import CythonBackend
    except ImportError as exc:
        raise InputError(
            "the cython backend is not built in this installation "
            f"({exc}); reinstall with `pip install .` (Cython and a C compiler are needed) "
            "or use backend='numpy'"
        ) from None
    return CythonBackend()


def _mpi_backend():
    try:
        from .backends.mpi_backend import MPIBackend
    except ImportError as exc:
        raise InputError(f"the mpi backend needs mpi4py ({exc}); install it with `pip install \".[mpi]\"`") from None
    return MPIBackend(local=_best_local_backend())


def _best_local_backend():
    try:
        return _cython_backend()
    except InputError:
        return _numpy_backend()


_FACTORIES = {"numpy": _numpy_backend, "cython": _cython_backend, "mpi": _mpi_backend, "auto": _best_local_backend}
BACKENDS = tuple(_FACTORIES)
_CACHE = {}


def get_backend(backend="auto"):
    """The backend called ``backend`` ("auto", "numpy", "cython", "mpi"), or a :class:`Backend` as is.

    "auto" is the Cython backend when it is built and the numpy reference otherwise.
    """
    if isinstance(backend, Backend):
        return backend
    if backend not in _FACTORIES:
        raise InputError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend not in _CACHE:
        _CACHE[backend] = _FACTORIES[backend]()
    return _CACHE[backend]


def check_rule(rule):
    """Return ``rule`` if it is a known update rule, else raise :class:`InputError`."""
    if rule not in RULES:
        raise InputError(f"unknown update rule {rule!r}; choose one of {', '.join(RULES)}")
    return rule


def seed_sequence(seed):
    """A :class:`numpy.random.SeedSequence` from an int, None (fresh entropy), or a SeedSequence.

    ``seed_sequence(s.entropy)`` is ``s`` again for any ``s = seed_sequence(None)``: the entropy
    drawn is the seed that repeats a run (see :func:`resolve_seed`).
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise InputError(f"seed must be a non-negative integer or None, got {seed!r}")
    return np.random.SeedSequence(seed)


def resolve_seed(seed, backend="auto"):
    """The integer seed a run uses: ``seed`` itself, or for None the entropy of a fresh
    :class:`numpy.random.SeedSequence` (128 random bits), the root's on every process of
    ``backend``.  Recorded with a run's output, it repeats the run bit for bit."""
    if seed is not None:
        return seed
    return get_backend(backend).broadcast(np.random.SeedSequence().entropy)
