"""Speed of kinetic Ising maximum likelihood at the size of the salamander raster.

N = 160 neurons, T = 283 041 time bins (45 MB as int8), data simulated from a known asymmetric
model: J_ij ~ N(0, 0.5²/N) (J_ii = 0) and fields h_i ~ N(h0, sd²) for three activity levels:

* ``retina``: h0 = −2.0, sd 0.4 — about 3 % of bins active per neuron, like retinal rasters;
* ``sparse``: h0 = −1.5, sd 0.5 — about 10 % active;
* ``dense``:  h0 = 0, sd 0.2 — about 50 % active.

Requirement: ``fit_kinetic(S, method="ml")`` in under 60 s with peak memory under 2 GiB.

pytest-benchmark (one round per activity level; skipped unless benchmarks are asked for)::

    pytest benchmarks/bench_kinetic_fit.py --benchmark-only --benchmark-columns=min,rounds

Plain timing in a fresh process (wall and CPU time, peak resident memory of the fitting
process, which includes the interpreter, numpy and the raster itself)::

    python benchmarks/bench_kinetic_fit.py [retina|sparse|dense ...] [--N 160] [--T 283041]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

N_SALAMANDER, T_SALAMANDER = 160, 283_041
KINDS = {"retina": (-2.0, 0.4), "sparse": (-1.5, 0.5), "dense": (0.0, 0.2)}
TIME_LIMIT_S = 60.0
MEMORY_LIMIT_BYTES = 2 * 1024 ** 3


def make_model(kind, n=N_SALAMANDER, g=0.5, seed=7):
    from inverse_ising import KineticIsing

    h0, sd = KINDS[kind]
    rng = np.random.default_rng(seed)
    J = rng.normal(0.0, g / np.sqrt(n), size=(n, n))
    np.fill_diagonal(J, 0.0)
    return KineticIsing(rng.normal(h0, sd, size=n), J)


def make_raster(kind, n=N_SALAMANDER, T=T_SALAMANDER, seed=8):
    """(T, n) int8 raster simulated from :func:`make_model` (numpy backend, fixed seeds)."""
    from inverse_ising import simulate

    return simulate(make_model(kind, n), T, seed=seed, backend="numpy", progress=False)


def rmse_offdiag(A, B):
    off = ~np.eye(A.shape[0], dtype=bool)
    return float(np.sqrt(np.mean((A - B)[off] ** 2)))


# ------------------------------------------------------------------------------ pytest-benchmark
@pytest.fixture(autouse=True)
def _only_when_benchmarking(request):
    """The fit takes tens of seconds: run it only under --benchmark-only / --benchmark-enable
    (or with INVERSE_ISING_BENCH=1), never as part of a plain test run."""
    opts = request.config.option
    if not (getattr(opts, "benchmark_only", False) or getattr(opts, "benchmark_enable", False)
            or os.environ.get("INVERSE_ISING_BENCH")):
        pytest.skip("kinetic fit benchmark: run with --benchmark-only")


@pytest.mark.parametrize("kind", list(KINDS))
def test_fit_kinetic_ml_salamander_size(benchmark, kind):
    import tracemalloc

    from inverse_ising.kinetic import fit_kinetic

    S = make_raster(kind)
    model = make_model(kind)
    tracemalloc.start()
    fit = benchmark.pedantic(fit_kinetic, args=(S,), kwargs={"method": "ml", "progress": False},
                             rounds=1, iterations=1, warmup_rounds=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    seconds = benchmark.stats["min"]
    benchmark.extra_info.update(
        kind=kind, N=S.shape[1], T=S.shape[0], activity=float(np.mean(S > 0)), seconds=seconds,
        iterations=fit.n_iterations, evaluations=fit.meta["evaluations"], converged=fit.converged,
        peak_traced_MiB=peak / 2 ** 20, rmse_J=rmse_offdiag(fit.J, model.J),
    )
    assert fit.converged
    assert seconds < TIME_LIMIT_S
    assert peak < MEMORY_LIMIT_BYTES


# ---------------------------------------------------------------------------------- plain timing
def _fit_in_this_process(path, truth_path):
    """Child process: load the raster, fit, report JSON (wall, CPU, peak RSS)."""
    from inverse_ising.kinetic import fit_kinetic

    S = np.load(path)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0, c0 = time.perf_counter(), time.process_time()
    fit = fit_kinetic(S, method="ml", progress=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    truth = np.load(truth_path)
    print(json.dumps({
        "wall_s": wall, "cpu_s": cpu, "peak_rss_MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_fit_MiB": rss_before / 1024, "iterations": fit.n_iterations,
        "evaluations": fit.meta["evaluations"], "converged": fit.converged,
        "final_gradient_se": fit.meta["final_gradient"], "precision": fit.meta["precision"],
        "log_likelihood": fit.log_likelihood, "rmse_J": rmse_offdiag(fit.J, truth),
    }))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kinds", nargs="*", metavar="KIND", help=f"any of {', '.join(KINDS)} (default all)")
    parser.add_argument("--N", type=int, default=N_SALAMANDER)
    parser.add_argument("--T", type=int, default=T_SALAMANDER)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _fit_in_this_process(*args.child)
    unknown = [k for k in args.kinds if k not in KINDS]
    if unknown:
        parser.error(f"unknown kind(s) {unknown}; choose from {', '.join(KINDS)}")
    print(f"machine: {os.cpu_count()} CPU(s) visible, load average {os.getloadavg()[0]:.2f}; "
          f"numpy {np.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.kinds or list(KINDS):
            path, truth_path = os.path.join(tmp, f"{kind}.npy"), os.path.join(tmp, f"{kind}_J.npy")
            t0 = time.perf_counter()
            np.save(path, make_raster(kind, args.N, args.T))
            np.save(truth_path, make_model(kind, args.N).J)
            simulated = time.perf_counter() - t0
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", path, truth_path],
                                 capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{kind:7s} N={args.N} T={args.T} (simulated in {simulated:.1f} s): fit {r['wall_s']:.1f} s wall, "
                  f"{r['cpu_s']:.1f} s CPU, peak RSS {r['peak_rss_MiB']:.0f} MiB "
                  f"({r['rss_before_fit_MiB']:.0f} MiB before the fit), {r['iterations']} iterations, "
                  f"{r['evaluations']} evaluations, converged={r['converged']} "
                  f"(gradient {r['final_gradient_se']:.3g} SE, {r['precision']}), "
                  f"log-lik {r['log_likelihood']:.4f} nats/bin, RMSE(J) {r['rmse_J']:.4f}; "
                  f"load average now {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
