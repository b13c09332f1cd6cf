"""The MPI backend under a real ``mpiexec -n 2`` (SPEC §3).

Every test starts its processes with the mpiexec that matches this Python (next to
``sys.executable`` — where the mpich wheel of the [test]/[mpi] extras puts it — else on PATH)
and waits for them to exit. A generous safety timeout, past which the whole process group is
killed, turns a hang into a failure of the test instead of the CI run; no test asserts on how
long a job took. The scripts it starts live in ``tests/mpi_scripts``.

Skipped only when mpi4py is not installed; a missing or mismatched mpiexec is a failure.
"""
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install \".[mpi]\" or \".[test]\")")

from inverse_ising.mpi_utils import mpiexec_command  # noqa: E402
from inverse_ising.stats import mean_and_error  # noqa: E402

pytestmark = pytest.mark.mpi

SCRIPTS = Path(__file__).parent / "mpi_scripts"
sys.path.insert(0, str(SCRIPTS))
from _common import small_pairwise  # noqa: E402

sys.path.remove(str(SCRIPTS))

# one thread per rank: two ranks on two cores must not also run threaded BLAS
ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
           PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
CLI = ["-c", "import sys; from inverse_ising.cli import main; sys.exit(main())"]


SAFETY_TIMEOUT = 300  # seconds; only a hung job gets near it, on however busy a host


def run_mpi(n, args, cwd=None, local=None, interrupt_at=None):
    """Run ``mpiexec -n n python ARGS`` (``n=0``: plain python, no mpiexec) until it exits; returns
    the CompletedProcess. ``local`` picks the kernels of the scripts' MPI backend. ``interrupt_at``:
    a line of the job's stdout on which mpiexec gets SIGINT, as Ctrl-C would send it. A run past
    ``SAFETY_TIMEOUT`` is killed with its process group and fails the test as hung."""
    cmd = ([] if n == 0 else mpiexec_command(n)) + [sys.executable] + [str(a) for a in args]
    env = dict(ENV, II_TEST_LOCAL=local) if local else ENV
    # Run outside the source tree: with `python -c` the working directory comes first on sys.path,
    # and the source tree's inverse_ising (without the compiled backends) would shadow the installed one.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=cwd or tempfile.gettempdir(), start_new_session=True)
    hung = threading.Event()

    def kill():
        hung.set()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    watchdog = threading.Timer(SAFETY_TIMEOUT, kill)
    watchdog.start()
    try:
        head = ""
        if interrupt_at is not None:
            for line in proc.stdout:
                head += line
                if line.rstrip("\n") == interrupt_at:
                    proc.send_signal(signal.SIGINT)
                    break
        out, err = proc.communicate()
    finally:
        watchdog.cancel()
    if hung.is_set():
        pytest.fail(f"`{' '.join(cmd)}` hung: still running after {SAFETY_TIMEOUT} s\nstdout:\n{head + out}\n"
                    f"stderr:\n{err}")
    return subprocess.CompletedProcess(cmd, proc.returncode, head + out, err)


def check(result):
    assert result.returncode == 0, f"`{' '.join(result.args)}` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module", autouse=True)
def mpiexec_works():
    """One probe: mpiexec starts 2 processes that mpi4py sees as one job of size 2."""
    try:
        cmd = mpiexec_command(2)
    except FileNotFoundError as exc:
        pytest.fail(f"{exc} (mpi4py is installed, so the MPI tests must run)")
    probe = "import sys; from mpi4py import MPI; sys.stdout.write(f'<size {MPI.COMM_WORLD.Get_size()}>\\n')"
    result = run_mpi(2, ["-c", probe])
    check(result)
    sizes = re.findall(r"<size (\d+)>", result.stdout)
    assert sizes == ["2", "2"], (
        f"`{' '.join(cmd)}` started processes that mpi4py sees as jobs of sizes {sizes}, not one job of 2: "
        "mpiexec and mpi4py use different MPI libraries (use the mpiexec of the MPI that mpi4py was built for)")


# ------------------------------------------------------------------------------------------ hooks
@pytest.mark.parametrize("n", [0, 2, 3])
def test_distribution_hooks(n):
    """local_chains, local_seed, allreduce_sum, gather_rows, broadcast, run_on_root, check_on_all and
    Chains.statistics (n = 0: a plain python process, where the backend runs as one rank)."""
    result = run_mpi(n, [SCRIPTS / "hooks.py"], local="numpy")
    check(result)
    assert f"hooks ok on {max(n, 1)} ranks (local kernels: numpy)" in result.stdout


def test_split_and_core_share(monkeypatch):
    """Even, contiguous chain split; each rank's share of a node's cores for threaded kernels."""
    from types import SimpleNamespace

    from inverse_ising.backends.mpi_backend import share_cores, split_evenly

    for n, size in [(10, 3), (2, 3), (0, 2), (7, 7), (101, 4)]:
        parts = [split_evenly(n, size, r) for r in range(size)]
        assert sum(c for c, _ in parts) == n and max(c for c, _ in parts) - min(c for c, _ in parts) <= 1
        assert [o for _, o in parts] == [sum(c for c, _ in parts[:r]) for r in range(size)]
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")  # leave this process's BLAS pool alone
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    local = SimpleNamespace(n_threads=8)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert share_cores(local, 4) == 2 and local.n_threads == 2  # 8 cores, 4 ranks on the node
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert share_cores(local, 4) == 3 and local.n_threads == 3  # bound by the launcher to 3 cores
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert share_cores(local, 4) is None and local.n_threads == 3  # the user decided


def test_backend_outside_mpiexec_is_one_rank():
    """backend="mpi" in a plain process (a notebook, a laptop): one rank, the local kernels."""
    import inverse_ising as ii
    from inverse_ising.backend import get_backend

    b = get_backend("mpi")
    assert (b.name, b.rank, b.size, b.is_root) == ("mpi", 0, 1, True)
    assert b.local_chains(7) == 7 and b.gather_rows(np.ones((2, 3))).shape == (2, 3)
    X = ii.sample(small_pairwise(), n_samples=40, n_chains=4, burn_in=5, thin=1, backend="mpi", seed=3, progress=False)
    assert X.shape == (40, 8) and np.array_equal(
        X, ii.sample(small_pairwise(), n_samples=40, n_chains=4, burn_in=5, thin=1, backend="mpi", seed=3,
                     progress=False))


# ------------------------------------------------------------------------------------ sampling
_RUNS = {}


def sample_run(tmp_path_factory, n, seed, local="numpy"):
    """Samples (T, C, N) of the small model from ``n`` ranks with ``seed`` (cached per module)."""
    key = (n, seed, local)
    if local == "cython":
        pytest.importorskip("inverse_ising.backends.cython_backend",
                            reason="the compiled kernels are not built (INVERSE_ISING_NO_KERNELS=1)")
    if key not in _RUNS:
        out = tmp_path_factory.mktemp("mpi") / f"samples_{n}_{seed}_{local}.npz"
        result = run_mpi(n, [SCRIPTS / "sample_moments.py", out, seed, 64, 200, 2, 100], local=local)
        check(result)
        with np.load(out) as f:
            assert int(f["size"]) == max(n, 1) and str(f["local"]) == local
            X = f["samples"]
        _RUNS[key] = X.reshape(200, 64, -1)
    return _RUNS[key]


def moment_series(S):
    """(T, C, K) time series of the K = N + N(N−1)/2 observables sᵢ and sᵢsⱼ (i < j)."""
    i, j = np.triu_indices(S.shape[2], 1)
    S = S.astype(np.float64)
    return np.concatenate([S, S[:, :, i] * S[:, :, j]], axis=2)


def means_and_errors(S):
    series = moment_series(S)
    pairs = [mean_and_error(series[:, :, k]) for k in range(series.shape[2])]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


@pytest.mark.parametrize("local", ["numpy", "cython"])
def test_two_ranks_agree_with_exact_and_one_rank(tmp_path_factory, local):
    """⟨sᵢ⟩ and ⟨sᵢsⱼ⟩ of N = 8 from 2 ranks × 32 chains, 1 rank × 64 chains and enumeration agree
    within autocorrelation-aware errors (|z| < 4 for each of the 36 moments)."""
    from inverse_ising.exact import exact_solve

    model = small_pairwise()
    exact = exact_solve(model)
    i, j = np.triu_indices(model.n_spins, 1)
    truth = np.concatenate([exact.mean, exact.second_moment[i, j]])
    m2, e2 = means_and_errors(sample_run(tmp_path_factory, 2, 11, local))
    m1, e1 = means_and_errors(sample_run(tmp_path_factory, 1, 11, local))
    z_exact_2 = (m2 - truth) / e2
    z_exact_1 = (m1 - truth) / e1
    z_ranks = (m2 - m1) / np.sqrt(e1 ** 2 + e2 ** 2)
    for name, z in (("2 ranks vs exact", z_exact_2), ("1 rank vs exact", z_exact_1), ("2 ranks vs 1 rank", z_ranks)):
        assert np.max(np.abs(z)) < 4, f"{name}: max |z| = {np.max(np.abs(z)):.2f} over {z.size} moments"
    # the test has power: the moments are far from those of independent spins
    assert np.max(np.abs(truth[model.n_spins:] - np.outer(exact.mean, exact.mean)[i, j])) > 10 * e2.max()


@pytest.mark.parametrize("local", ["numpy", "cython"])
def test_same_seed_and_rank_count_reproduce_exactly(tmp_path_factory, local):
    a = sample_run(tmp_path_factory, 2, 11, local)
    _RUNS.pop((2, 11, local))
    b = sample_run(tmp_path_factory, 2, 11, local)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, sample_run(tmp_path_factory, 2, 12, local))  # another seed, other samples
    assert not np.array_equal(a, sample_run(tmp_path_factory, 1, 11, local))  # another rank count, other streams


# -------------------------------------------------------------------------------------- faults
@pytest.mark.parametrize("mode,status,message", [
    ("raise", 1, "[rank 1 of 2] RuntimeError: deliberate failure on rank 1"),
    ("input_one_rank", 2, "fail.py: error (rank 1 of 2): bad value found on rank 1"),
    ("input_everywhere", 2, "fail.py: error (rank 0 of 2): the learning rate makes the fit diverge"),
    ("input_on_root", 2, "fail.py: error: data.txt: ragged rows (row 3 has 7 values, row 1 has 8)"),
])
def test_failure_on_one_rank_ends_the_job(mode, status, message):
    """An exception on any rank ends every rank (instead of leaving the others waiting in a
    collective until the safety timeout), with the error shown once."""
    result = run_mpi(2, [SCRIPTS / "fail.py", mode])
    assert result.returncode == status, result.stderr
    assert message in result.stderr
    tail = message.split(": ")[-1]
    assert sum(line.endswith(tail) for line in result.stderr.splitlines()) == 1, result.stderr


# ------------------------------------------------------------------------------------------ CLI
def test_cli_sample_under_mpiexec(tmp_path):
    """`mpiexec -n 2 inverse-ising sample ... --backend mpi`: one output written by rank 0, the
    same file as a second run with the same seed; an existing output is refused on every rank."""
    args = CLI + ["sample", "lattice", "--L", "8", "--J", "0.3", "-n", "400", "--chains", "20", "--burn-in", "50",
                  "--thin", "2", "--backend", "mpi", "--seed", "3", "--no-progress"]
    first = check(run_mpi(2, args + ["-o", tmp_path / "a.npz"]))
    assert first.stdout.count("wrote 400 samples") == 1
    check(run_mpi(2, args + ["-o", tmp_path / "b.npz"]))
    with np.load(tmp_path / "a.npz") as a, np.load(tmp_path / "b.npz") as b:
        assert a["spins"].shape == (400, 64) and np.array_equal(a["spins"], b["spins"])
    again = run_mpi(2, args + ["-o", tmp_path / "a.npz"])
    assert again.returncode == 2 and "exists" in again.stderr, again.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.npz"]  # no stray temporary files


# ------------------------------------------------------------------------------------------ fit
N_FIT = 20


@pytest.fixture(scope="module")
def fit_data(tmp_path_factory):
    """20 000 exact samples of an N = 20 pairwise model (fields ~ ±0.3, couplings ~ ±0.11)."""
    import inverse_ising as ii
    from inverse_ising.exact import exact_sample

    rng = np.random.default_rng(20)
    J = np.triu(rng.normal(0.0, 0.5 / np.sqrt(N_FIT), size=(N_FIT, N_FIT)), 1)
    model = ii.PairwiseIsing(rng.normal(0.0, 0.3, size=N_FIT), J + J.T)
    path = tmp_path_factory.mktemp("fit") / "data.npz"
    np.savez(path, spins=exact_sample(model, 20000, seed=1))
    return path, model


def fit_result(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def rmse(a, b):
    i, j = np.triu_indices(N_FIT, 1)
    return float(np.sqrt(np.mean((a[i, j] - b[i, j]) ** 2)))


def test_two_rank_fit_reaches_single_process_quality(fit_data, tmp_path):
    """Boltzmann learning (natural steps, 400 chains, defaults otherwise) of N = 20 from 20 000
    samples: 2 ranks converge to couplings as close to the truth as one process does."""
    data, truth = fit_data
    fit = SCRIPTS / "fit_pairwise.py"
    check(run_mpi(2, [fit, data, tmp_path / "two.npz", "--seed", 5]))
    check(run_mpi(0, [fit, data, tmp_path / "one.npz", "--seed", 5, "--backend", "auto"]))
    two, one = fit_result(tmp_path / "two.npz"), fit_result(tmp_path / "one.npz")
    assert int(two["size"]) == 2 and int(one["size"]) == 1
    assert two["converged"] and one["converged"]
    e2, e1 = rmse(two["J"], truth.J), rmse(one["J"], truth.J)
    assert e2 <= 1.15 * e1, f"coupling RMSE {e2:.4f} on 2 ranks vs {e1:.4f} in one process"
    assert e2 < 0.1 * np.abs(truth.J).max()
    assert np.sqrt(np.mean((two["h"] - truth.h) ** 2)) <= 1.15 * np.sqrt(np.mean((one["h"] - truth.h) ** 2)) + 1e-3


def test_fit_interrupted_under_mpi_resumes_from_its_checkpoint(fit_data, tmp_path):
    """Ctrl-C (SIGINT to mpiexec) once the first checkpoint exists (the fit holds there until the
    signal) ends both ranks and leaves the checkpoint; resuming on 2 ranks gives exactly the
    parameters of an uninterrupted 2-rank run with the same seed."""
    data, _ = fit_data
    fit = SCRIPTS / "fit_pairwise.py"
    common = ["--seed", 9, "--tol", 0.01, "--max-iter", 12, "--max-sweeps", 128]  # a strict tol: several iterations
    check(run_mpi(2, [fit, data, tmp_path / "whole.npz", "--checkpoint", tmp_path / "whole.ckpt.npz"] + common))

    ckpt = tmp_path / "cut.ckpt.npz"
    cut = run_mpi(2, [fit, data, tmp_path / "cut.npz", "--checkpoint", ckpt, "--hold"] + common,
                  interrupt_at="checkpoint written")
    assert "checkpoint written" in cut.stdout, f"the fit ended without a checkpoint:\n{cut.stdout}\n{cut.stderr}"
    assert cut.returncode != 0 and "interrupted" in cut.stderr, f"the fit ignored Ctrl-C:\n{cut.stdout}\n{cut.stderr}"
    assert not (tmp_path / "cut.npz").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if "cut" in p.name) == ["cut.ckpt.npz"]  # no half-written file

    check(run_mpi(2, [fit, data, tmp_path / "cut.npz", "--checkpoint", ckpt, "--resume"] + common))
    whole, resumed = fit_result(tmp_path / "whole.npz"), fit_result(tmp_path / "cut.npz")
    assert int(resumed["iterations"]) == int(whole["iterations"]) > 1, "the fit ended at its first checkpoint"
    assert np.array_equal(resumed["h"], whole["h"]) and np.array_equal(resumed["J"], whole["J"])


def test_cli_fit_under_mpiexec(fit_data, tmp_path):
    """`mpiexec -n 2 inverse-ising fit DATA --backend mpi -o fit.npz`: rank 0 writes the fit and
    removes its default checkpoint; bad input ends both ranks with one message and status 2."""
    from inverse_ising.io import load_model

    data, truth = fit_data
    args = CLI + ["fit", data, "--backend", "mpi", "--seed", 3, "--chains", 400, "--no-progress"]
    result = check(run_mpi(2, args + ["-o", tmp_path / "fit.npz"]))
    assert result.stdout.count("wrote") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.npz"]  # no checkpoint or temporary left
    model = load_model(tmp_path / "fit.npz")[0]
    assert rmse(model.J, truth.J) < 0.1 * np.abs(truth.J).max()

    with np.load(data) as f:
        X = f["spins"].copy()
    X[5, 3] = 3
    np.savez(tmp_path / "bad.npz", spins=X)
    for argv, message in ((args + ["-o", tmp_path / "fit.npz"], "fit.npz already exists"),
                          (CLI + ["fit", tmp_path / "bad.npz", "--backend", "mpi", "-o", tmp_path / "bad_fit.npz"],
                           "found 3 at index (5, 3)")):
        bad = run_mpi(2, argv)
        assert bad.returncode == 2, bad.stderr
        assert bad.stderr.count(message) == 1, f"the message should be shown once (by rank 0):\n{bad.stderr}"
    assert not (tmp_path / "bad_fit.npz").exists()
