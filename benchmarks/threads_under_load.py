"""Default threads against one thread, on an idle host and with one core kept busy.

    python benchmarks/threads_under_load.py [--iterations 8] [--repeats 3] [--samples 20000]

Data: a retina-like pairwise model of N = 60 neurons (``retina_pairwise_model(60, seed=0)``),
M samples from it (``retina_pairwise_data``, seed 1).  Each run is a fresh process that fits
it with ``ii.fit(X, model="pairwise", method="boltzmann", seed=1, max_iter=…)``: a fixed number
of learner iterations from a fixed seed, so every run does the same work (the iterations and
sweeps are printed to check it).  Three settings: "default" (the package's default threads
for the kernels, numpy's for BLAS), "BLAS 1" (``OPENBLAS_NUM_THREADS=1``: the kernels' default
threads alone) and "1 thread" (``OMP_NUM_THREADS=1``: kernels and BLAS on one thread).  Each
runs (a) with nothing else started and (b) while a spinning process started here keeps one core
busy.  The order of the settings rotates from repeat to repeat, so that slow phases of the host
hit all of them; the table gives the median seconds and their ratios to "1 thread".
"""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

SPIN = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    pass\n"  # ends with its parent
SETTINGS = {"default": {}, "BLAS 1": {"OPENBLAS_NUM_THREADS": "1"}, "1 thread": {"OMP_NUM_THREADS": "1"}}
CONDITIONS = ("idle", "one core busy")


def child(path, iterations):
    """One fit of the saved data; prints seconds, iterations and total sweeps."""
    import numpy as np

    import inverse_ising as ii

    X = np.load(path)
    t0 = time.perf_counter()
    result = ii.fit(X, model="pairwise", method="boltzmann", seed=1, max_iter=iterations, progress=False)
    seconds = time.perf_counter() - t0
    sweeps = int(np.sum(result.history["sweeps"])) if "sweeps" in result.history else -1
    print(f"{seconds:.3f} {result.iterations} {sweeps}")


def run_fit(path, iterations, setting):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    env.update(SETTINGS[setting])
    out = subprocess.run([sys.executable, __file__, "--child", str(path), "--iterations", str(iterations)],
                         env=env, capture_output=True, text=True, check=True)
    seconds, its, sweeps = out.stdout.split()[-3:]
    return float(seconds), int(its), int(sweeps)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=8, help="learner iterations per fit (max_iter)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per setting and condition")
    parser.add_argument("--samples", type=int, default=20_000, help="M, samples of the data")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.iterations)

    from inverse_ising.backends.threads import available_cores, default_threads
    from inverse_ising.synthetic import retina_pairwise_data, retina_pairwise_model

    import numpy as np

    model = retina_pairwise_model(60, seed=0)
    X = retina_pairwise_data(args.samples, model, seed=1).spins
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {available_cores()} available; "
          f"load average {os.getloadavg()[0]:.1f} at start; {date.today()}")
    print(f"N = {X.shape[1]}, M = {X.shape[0]}, {args.iterations} iterations per fit; "
          f"default threads here now: {default_threads()}")
    times = {(cond, setting): [] for cond in CONDITIONS for setting in SETTINGS}
    work = set()
    names = list(SETTINGS)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "X.npy"
        np.save(path, X)
        for rep in range(args.repeats):
            order = names[rep % 3:] + names[:rep % 3]
            for cond in CONDITIONS:
                spinner = subprocess.Popen([sys.executable, "-c", SPIN]) if cond != "idle" else None
                try:
                    for setting in order:
                        seconds, its, sweeps = run_fit(path, args.iterations, setting)
                        times[cond, setting].append(seconds)
                        work.add((its, sweeps))
                        print(f"  {cond:14s} {setting:9s} {seconds:7.2f} s ({its} iterations, {sweeps} sweeps), "
                              f"load average {os.getloadavg()[0]:.1f}", flush=True)
                finally:
                    if spinner is not None:
                        spinner.kill()
                        spinner.wait()
    if len(work) > 1:
        print(f"warning: the runs did different work: {sorted(work)}")
    print("\n| condition | default (s) | BLAS 1 (s) | 1 thread (s) | default / 1 thread | BLAS 1 / 1 thread |")
    print("|---|---|---|---|---|---|")
    for cond in CONDITIONS:
        d, b, o = (statistics.median(times[cond, setting]) for setting in names)
        print(f"| {cond} | {d:.1f} | {b:.1f} | {o:.1f} | {d / o:.2f} | {b / o:.2f} |")

if __name__ == "__main__":
    sys.exit(main())
