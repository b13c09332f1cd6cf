"""Fault handling for runs under mpiexec: one failing rank must end the whole job, promptly.

Without care an MPI job hangs when one rank fails: the others wait forever (and, with MPICH,
spin at 100 % CPU) in their next collective call. Three tools prevent that:

* :func:`install_excepthook` — an exception that escapes to the top level on any rank is printed
  with the rank's number, then ``MPI.COMM_WORLD.Abort`` ends every rank. The MPI backend installs
  it when it is created with more than one rank, so a plain script under mpiexec is covered.
* :func:`abort_on_error` — the same for a block of code whose exceptions are caught further up
  (the CLI turns errors into an exit status, so they never reach the excepthook). An error that
  every rank raises together (:class:`CollectiveInputError`) passes through unchanged, so that
  every rank can exit cleanly with the same message printed once by the root.
* :func:`run_on_root` — run a check or a file read on the root only and broadcast its result;
  bad input found there (an :class:`InputError`) is raised on every rank as a
  :class:`CollectiveInputError` with the root's message.

All of them take a backend (anything with ``rank``, ``size``, ``is_root`` and ``broadcast``) or
a communicator, and do nothing special in a single process, so drivers use them without
branching on the backend's name.
"""
import contextlib
import os
import sys
import time
import traceback

from .errors import FitDivergedError, InputError

#: seconds a non-root rank waits before reporting an expected error itself, so that when every
#: rank raises the same error only the root's message is shown (the root's abort ends the wait)
GRACE_SECONDS = 1.0

#: seconds between printing an error and aborting: the launcher (mpiexec) forwards each rank's
#: output through a pipe, and an abort that comes at once can tear the pipe down before the
#: launcher has read it, so the message the user needs would be lost
FORWARD_SECONDS = 0.5


class CollectiveInputError(InputError):
    """Bad input raised on every rank at once, with the root's message (see :func:`run_on_root`)."""


def _comm(where=None):
    """The communicator of a backend or communicator, COMM_WORLD for None, or None when there is
    no MPI in this process (mpi4py not imported yet and not asked for)."""
    if where is not None and hasattr(where, "Abort"):
        return where
    comm = getattr(where, "comm", None)
    if comm is not None:
        return comm
    if where is not None:  # a single-process backend
        return None
    if "mpi4py.MPI" not in sys.modules:
        return None
    return sys.modules["mpi4py.MPI"].COMM_WORLD


def world_rank_size():
    """(rank, size) of this process in COMM_WORLD, or (0, 1) when MPI is not in use."""
    comm = _comm()
    return (0, 1) if comm is None else (comm.Get_rank(), comm.Get_size())


def launched_by_mpiexec():
    """True when the environment says this process was started by an MPI launcher with more
    than one process (MPICH/Hydra, Open MPI, Intel MPI, Slurm's srun with PMI/PMIx)."""
    for var in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS", "PMIX_SIZE", "SLURM_NTASKS"):
        value = os.environ.get(var)
        if value and value.isdigit() and int(value) > 1:
            return True
    return False


def _report(rank, size, exc_type, exc, tb, one_line=False, prog=None):
    where = f"rank {rank} of {size}"
    if one_line:
        head = f"{prog}: error ({where})" if prog else f"error ({where})"
        text = f"{head}: {exc}\n"
    else:
        text = "".join(f"[{where}] {line}\n" for line in
                       "".join(traceback.format_exception(exc_type, exc, tb)).rstrip("\n").split("\n"))
    try:
        sys.stdout.flush()
        sys.stderr.write(text)
        sys.stderr.flush()
    except Exception:  # a closed stderr must not stop the abort
        pass


def _interrupted(comm, prog=None):
    """Ctrl-C reaches every rank: the root says so once, then the job is aborted (status 130)."""
    if comm.Get_rank() == 0:
        try:
            sys.stderr.write(f"{prog + ': ' if prog else ''}interrupted; aborting all {comm.Get_size()} ranks\n")
        except Exception:
            pass
    else:
        time.sleep(GRACE_SECONDS)
    abort(comm, 130)


def abort(comm, code=1):
    """End every rank of ``comm``'s job with exit status ``code`` (never returns).

    Output is flushed and given :data:`FORWARD_SECONDS` to reach the launcher first.
    """
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    time.sleep(FORWARD_SECONDS)
    comm.Abort(code)
    os._exit(code)  # not reached: Abort does not return


def install_excepthook(comm=None):
    """Abort the whole job when an exception escapes on any rank (idempotent).

    The exception is printed first (with the rank's number) by the previous hook's format.
    ``comm`` defaults to ``MPI.COMM_WORLD``. In a single process nothing is installed.
    """
    comm = _comm(comm)
    if comm is None:
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
    if comm.Get_size() == 1 or getattr(sys.excepthook, "_inverse_ising_abort", False):
        return
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            # every rank gets the Ctrl-C from mpiexec: one line, not a traceback per rank
            _interrupted(comm)
        _report(comm.Get_rank(), comm.Get_size(), exc_type, exc, tb)
        abort(comm, 1)

    hook._inverse_ising_abort = True
    hook.previous = previous
    sys.excepthook = hook


@contextlib.contextmanager
def abort_on_error(where=None, prog=None):
    """Run a block; if it raises on one rank of a multi-rank job, report and abort the job.

    ``where`` is a backend or a communicator (default: COMM_WORLD if MPI is in use). Errors
    every rank raises together pass through: :class:`CollectiveInputError` and ``SystemExit``
    (argument parsing fails identically everywhere). Expected errors (:class:`InputError`,
    :class:`FitDivergedError`) are shown as one line naming ``prog`` and the rank and end the
    job with exit status 2; anything else shows its traceback and ends it with status 1.
    A non-root rank waits :data:`GRACE_SECONDS` before reporting an expected error, so that
    an error raised on every rank is shown once, by the root.
    In a single process the block's exceptions pass through untouched.
    """
    try:
        yield
    except (CollectiveInputError, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:
        comm = _comm(where)
        if comm is None or comm.Get_size() == 1:
            raise
        rank, size = comm.Get_rank(), comm.Get_size()
        expected = isinstance(exc, (InputError, FitDivergedError))
        if isinstance(exc, KeyboardInterrupt):
            _interrupted(comm, prog)
        if expected and rank != 0:
            time.sleep(GRACE_SECONDS)
        _report(rank, size, type(exc), exc, exc.__traceback__, one_line=expected, prog=prog)
        abort(comm, 2 if expected else 1)


def run_on_root(backend, func, *args, **kwargs):
    """``func(*args, **kwargs)`` evaluated on the root only; its result on every rank.

    An :class:`InputError` raised there is raised on every rank as a
    :class:`CollectiveInputError` with the same message, so every rank stops cleanly together
    (any other exception on the root aborts the job through the usual hooks). ``backend`` is
    any backend; with a single-process backend this is just the call.
    """
    if backend.size == 1:
        try:
            return func(*args, **kwargs)
        except CollectiveInputError:
            raise
        except InputError as exc:
            raise CollectiveInputError(str(exc)) from None
    payload = None
    if backend.is_root:
        try:
            payload = ("ok", func(*args, **kwargs))
        except InputError as exc:
            payload = ("error", str(exc))
        except BaseException as exc:
            # tell the other ranks before failing here, so they stop instead of waiting
            payload = ("fail", f"{type(exc).__name__} on the root: {exc}")
            backend.broadcast(payload)
            raise
    status, value = backend.broadcast(payload)
    if status == "ok":
        return value
    if status == "error":
        raise CollectiveInputError(value)
    raise RuntimeError(value)


def check_on_all(backend, ok, message):
    """Raise :class:`CollectiveInputError` on every rank when ``ok`` is false on any rank.

    ``message`` is the error to show (the one of the lowest failing rank is used). A collective
    call: every rank must reach it.
    """
    if backend.size == 1:
        if not ok:
            raise CollectiveInputError(message)
        return
    import numpy as np

    first_bad = backend.allreduce_sum(np.array([0 if ok else 1], dtype=np.int64))[0]
    if first_bad:
        messages = backend.comm.allgather(None if ok else message)
        raise CollectiveInputError(next(m for m in messages if m is not None))


def find_mpiexec():
    """Path of the ``mpiexec`` that matches this Python: the one next to ``sys.executable``
    (where the mpich wheel puts it), else the first on PATH; None if there is none."""
    import shutil

    here = os.path.dirname(os.path.realpath(sys.executable))
    for folder in dict.fromkeys([os.path.dirname(sys.executable), here]):
        for name in ("mpiexec", "mpirun", "mpiexec.exe"):
            path = os.path.join(folder, name)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
    return shutil.which("mpiexec") or shutil.which("mpirun")


def mpiexec_command(n, mpiexec=None, local=True):
    """The argument list that starts ``n`` processes on this machine: ``[mpiexec, flags, "-n", n]``.

    The flags make a launch work in a container without ssh and with fewer cores than ranks:
    MPICH's Hydra gets ``-launcher fork`` (start the processes directly, no ssh); Open MPI gets
    ``--oversubscribe`` (and ``--allow-run-as-root`` when run as root). ``local=False`` adds none
    (for a cluster, where the launcher must reach other nodes).
    Raises FileNotFoundError when no mpiexec is found.
    """
    import subprocess

    mpiexec = mpiexec or find_mpiexec()
    if mpiexec is None:
        raise FileNotFoundError("no mpiexec next to the Python interpreter or on PATH; "
                                "install the MPI extra: pip install \"inverse_ising[mpi]\"")
    flags = []
    if local:
        try:
            version = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            version = ""
        if "HYDRA" in version:
            flags = ["-launcher", "fork"]
        elif "Open MPI" in version or "OpenRTE" in version:
            flags = ["--oversubscribe"] + (["--allow-run-as-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])
    return [mpiexec] + flags + ["-n", str(int(n))]


def check_same_on_all(backend, *arrays, what="parameters"):
    """Raise RuntimeError on every rank unless ``arrays`` are bit-for-bit the same on all ranks.

    A cheap collective safety net for learners (one small allgather of a digest): every rank
    must take the same step, and a rank that drifted would silently fit another model.
    """
    if backend.size == 1:
        return
    import hashlib

    import numpy as np

    digest = hashlib.sha1()
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(str((a.shape, a.dtype.str)).encode())
        digest.update(a.tobytes())
    digests = backend.comm.allgather(digest.hexdigest())
    if len(set(digests)) > 1:
        differ = [r for r, d in enumerate(digests) if d != digests[0]]
        raise RuntimeError(f"the {what} differ between MPI ranks (ranks {differ} differ from rank 0); "
                           "every rank must take the same step")
