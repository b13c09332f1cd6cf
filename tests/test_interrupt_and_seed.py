"""Seeds that repeat a run, and a Boltzmann fit that survives an interruption.

* A run given no seed records the seed it drew (the entropy of its SeedSequence) in its
  output's meta and prints it; passing that seed back gives the same bits.
* ``inverse-ising fit`` checkpoints by wall time (``--checkpoint-seconds``) and, on SIGINT or
  SIGTERM, writes the state after the last completed iteration, prints one line naming
  ``--resume`` and exits with 130 / 143; the resumed fit equals an uninterrupted one bit for bit.
"""
import json
import re
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

from inverse_ising import boltzmann
from inverse_ising.cli import main
from inverse_ising.fit import fit, load_fit
from inverse_ising.io import save_spins
from inverse_ising.synthetic import retina_pairwise_data, retina_pairwise_model

SAFETY_TIMEOUT = 120  # seconds; only a hung fit comes near it
# never converges (tol far below the sampling noise): every fit runs all MAX_ITER iterations
MAX_ITER = 8
FIT_OPTIONS = ["--max-iter", MAX_ITER, "--tol", 0.001, "--chains", 100]


@pytest.fixture(scope="module")
def retina(tmp_path_factory):
    """2000 samples of a retina-like population of 30 neurons, as a spins file."""
    path = tmp_path_factory.mktemp("retina") / "retina.npz"
    data = retina_pairwise_data(2000, model=retina_pairwise_model(n_neurons=30, seed=0), seed=1)
    save_spins(path, data.spins)
    return path


def cli(*argv):
    return main([str(a) for a in argv])


def seed_line(err, command):
    lines = [line for line in err.splitlines() if line.startswith(f"inverse-ising {command}: seed ")]
    assert len(lines) == 1, err
    return int(re.fullmatch(rf"inverse-ising {command}: seed (\d+) \(pass --seed (\d+) to reproduce\)",
                            lines[0]).group(1))


def same_fit(a, b):
    return np.array_equal(a.h, b.h) and np.array_equal(a.J, b.J)


def checkpoint_meta(path):
    with np.load(path, allow_pickle=False) as npz:
        return json.loads(str(npz["meta"]))


# ---------------------------------------------------------------------------------------------
# seeds
# ---------------------------------------------------------------------------------------------

def test_recorded_seed_reproduces_the_fit(retina, tmp_path, capsys):
    def run(name, *seed):
        assert cli("fit", retina, "-o", tmp_path / name, "--max-iter", 2, "--chains", 100, "--no-progress", *seed) == 0
        return load_fit(tmp_path / name), capsys.readouterr().err

    first, err = run("a.npz")
    drawn = seed_line(err, "fit")
    assert first.meta["seed"] == drawn and drawn >= 2 ** 64  # SeedSequence's 128 bits of entropy
    again, err = run("b.npz", "--seed", drawn)
    assert "seed" not in err  # a seed given is not announced
    assert again.meta["seed"] == drawn and same_fit(first, again)
    other, _ = run("c.npz", "--seed", drawn + 1)
    assert not same_fit(first, other)


def test_library_fit_records_the_seed_it_drew(spins):
    X = spins
    opts = {"max_iter": 2, "n_chains": 50, "progress": False}
    with pytest.warns(RuntimeWarning, match="without converging"):
        drawn = fit(X, **opts)
    with pytest.warns(RuntimeWarning, match="without converging"):
        again = fit(X, seed=drawn.meta["seed"], **opts)
    assert same_fit(drawn, again) and again.meta["seed"] == drawn.meta["seed"]


@pytest.mark.parametrize("command", [["sample", "lattice", "--L", 8, "-n", 50, "--burn-in", 20],
                                     ["simulate", "kinetic", "--random", 10, "-n", 50]])
def test_sample_and_simulate_record_the_seed_they_drew(command, tmp_path, capsys):
    assert cli(*command, "-o", tmp_path / "a.npz", "--no-progress") == 0
    drawn = seed_line(capsys.readouterr().err, command[0])
    assert cli(*command, "-o", tmp_path / "b.npz", "--no-progress", "--seed", drawn) == 0
    with np.load(tmp_path / "a.npz") as a, np.load(tmp_path / "b.npz") as b:
        assert json.loads(str(a["meta"]))["seed"] == drawn
        assert np.array_equal(a["spins"], b["spins"])


# ---------------------------------------------------------------------------------------------
# checkpoints by time, in the library
# ---------------------------------------------------------------------------------------------

class _Crash(Exception):
    """A run killed without warning (no chance to checkpoint)."""


def fail_at(monkeypatch, k, exc):
    """Raise ``exc`` at the k-th measurement of the pairwise learner; returns the undo."""
    original = boltzmann._PairwiseProblem.measure
    calls = {"n": 0}

    def measure(problem, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == k:
            raise exc
        return original(problem, *args, **kwargs)

    monkeypatch.setattr(boltzmann._PairwiseProblem, "measure", measure)
    return lambda: monkeypatch.setattr(boltzmann._PairwiseProblem, "measure", original)


@pytest.fixture(scope="module")
def spins(retina):
    from inverse_ising.data import load_data

    return load_data(retina).spins


LIBRARY_OPTIONS = {"seed": 4, "max_iter": 5, "tol": 0.001, "n_chains": 100, "progress": False}


@pytest.fixture(scope="module")
def whole(spins):
    with pytest.warns(RuntimeWarning, match="without converging"):
        return fit(spins, **LIBRARY_OPTIONS)


def resume(spins, ckpt):
    with pytest.warns(RuntimeWarning, match="without converging"):
        return fit(spins, checkpoint=ckpt, resume=True, **LIBRARY_OPTIONS)


def test_time_triggered_checkpoint_resumes_to_the_uninterrupted_fit(spins, whole, tmp_path, monkeypatch):
    ckpt = tmp_path / "fit.ckpt.npz"
    # an hour between checkpoints: a crash in the fourth iteration leaves nothing
    undo = fail_at(monkeypatch, 4, _Crash)
    with pytest.raises(_Crash):
        fit(spins, checkpoint=ckpt, checkpoint_seconds=3600, **LIBRARY_OPTIONS)
    undo()
    assert not ckpt.exists()
    # checkpoint_seconds=0: written after every iteration, so the crash leaves iteration 3
    undo = fail_at(monkeypatch, 4, _Crash)
    with pytest.raises(_Crash):
        fit(spins, checkpoint=ckpt, checkpoint_seconds=0, **LIBRARY_OPTIONS)
    undo()
    assert checkpoint_meta(ckpt)["t"] == 3
    resumed = resume(spins, ckpt)
    assert resumed.iterations == whole.iterations == 5
    assert same_fit(resumed, whole)
    assert np.array_equal(resumed.history["max_z"], whole.history["max_z"])


@pytest.mark.parametrize("k", [1, 3])
def test_interrupt_writes_the_last_completed_iteration(spins, whole, tmp_path, monkeypatch, k):
    """Ctrl-C in iteration k (k = 1: before any is done, the starting point is kept)."""
    ckpt = tmp_path / "fit.ckpt.npz"
    undo = fail_at(monkeypatch, k, KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        fit(spins, checkpoint=ckpt, checkpoint_seconds=3600, **LIBRARY_OPTIONS)
    undo()
    assert checkpoint_meta(ckpt)["t"] == k - 1
    assert same_fit(resume(spins, ckpt), whole)


def test_checkpoint_options_are_checked(spins):
    from inverse_ising.errors import InputError

    with pytest.raises(InputError, match="checkpoint_seconds must be >= 0"):
        fit(spins, checkpoint_seconds=-1, progress=False)
    with pytest.raises(InputError, match="checkpoint_every must be an integer >= 1"):
        fit(spins, checkpoint_every=0, progress=False)


# ---------------------------------------------------------------------------------------------
# the command line, interrupted by a signal
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def uninterrupted(retina, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "whole.npz"
    assert cli("fit", retina, "-o", out, "--seed", 7, "--no-progress", *FIT_OPTIONS) == 0
    return load_fit(out)


# the command line, with the k-th measurement held until a signal arrives: the interrupt then
# certainly falls in the middle of the fit, after k − 1 completed iterations
HELD_CLI = [sys.executable, "-c", """
import signal, sys
from inverse_ising import boltzmann
from inverse_ising.cli import main

measure, calls = boltzmann._PairwiseProblem.measure, []

def held(problem, *args, **kwargs):
    calls.append(None)
    if len(calls) == int(sys.argv[1]):
        print("held", file=sys.stderr, flush=True)
        while True:
            signal.pause()
    return measure(problem, *args, **kwargs)

boltzmann._PairwiseProblem.measure = held
sys.exit(main(sys.argv[2:]))
"""]
HELD_AT = 4


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_cli_fit_interrupted_by_a_signal_resumes_exactly(retina, uninterrupted, tmp_path, sig, status):
    out = tmp_path / "fit.npz"
    ckpt = tmp_path / "fit.npz.checkpoint.npz"  # the default checkpoint
    # checkpoints by time only once an hour: the checkpoint found afterwards is the interrupt's
    argv = [str(a) for a in ("fit", retina, "-o", out, "--seed", 7, "--checkpoint-seconds", 3600, "--no-progress",
                             *FIT_OPTIONS)]
    # the same environment as this process (BLAS threads included), so the same bits
    proc = subprocess.Popen(HELD_CLI + [str(HELD_AT)] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path)
    watchdog = threading.Timer(SAFETY_TIMEOUT, proc.kill)
    watchdog.start()
    err = ""
    try:
        for line in proc.stderr:
            err += line
            if line == "held\n":
                proc.send_signal(sig)
                break
        rest = proc.communicate()[1]
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err += rest
    assert "held" in err, f"the fit ended before its {HELD_AT}th iteration:\n{err}"
    assert proc.returncode == status, err
    lines = [line for line in err.splitlines() if "--resume" in line]
    assert len(lines) == 1 and str(ckpt) in lines[0], err
    assert ckpt.exists() and not out.exists()
    assert checkpoint_meta(ckpt)["t"] == HELD_AT - 1  # the last completed iteration

    assert cli(*argv, "--resume") == 0
    resumed = load_fit(out)
    assert not ckpt.exists()  # the default checkpoint goes once the fit is written
    assert resumed.iterations == uninterrupted.iterations == MAX_ITER
    assert same_fit(resumed, uninterrupted)
