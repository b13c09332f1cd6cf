"""Autocorrelation times at K_c: Wolff cluster updates against checkerboard Metropolis sweeps.

    pytest benchmarks/bench_wolff.py --benchmark-only        # pytest-benchmark, τ in extra_info
    python benchmarks/bench_wolff.py [L ...]                   # a table (default L = 16 32 64)

For the 2D Ising model at K_c = ½ ln(1 + √2), periodic L×L, h = 0, both samplers of the Cython
backend start from equilibrated states of C independent chains.  Measured per observable
(energy per spin u and |m|): the integrated autocorrelation time τ_int (Sokal window,
``inverse_ising.stats``), in sweeps (Metropolis: one checkerboard sweep; Wolff: clusters ×
⟨cluster size⟩ / L², i.e. spins flipped per site), and the CPU time per independent sample,
2τ_int × (time per sweep), the time per sweep taken from one long call of each kernel.  Metropolis' τ grows like L^2.17, Wolff's like L^0.25 (in sweeps).
"""
import sys
import time

import numpy as np
import pytest

import inverse_ising as ii
from inverse_ising.onsager import K_C
from inverse_ising.stats import integrated_autocorrelation_time



def _observables(model, spins):
    X = spins.reshape(spins.shape[0], -1)
    return model.energy(X) / X.shape[1], np.abs(X.mean(axis=1, dtype=np.float64))


def measure(L, chains=16, metropolis_sweeps=None, wolff_clusters=None, seed=1):
    """τ_int and cost per independent sample of both samplers; returns a dict of rows."""
    from inverse_ising.backends.cython_backend import CythonBackend

    backend = CythonBackend(n_threads=1)
    model = ii.LatticeIsing(L, K_C, 0.0)
    N = L * L
    T_met = metropolis_sweeps or int(200 * (L / 8) ** 2.2)
    T_wolff = wolff_clusters or 4000
    rows = {}

    # Metropolis: one record per sweep
    spins = np.ones((chains, L, L), np.int8)
    rng = backend.make_rng(np.random.SeedSequence([seed, L, 0]), chains)
    backend.lattice_sweeps(spins, K_C, 0.0, "periodic", "metropolis", max(1000, T_met // 10), rng)
    u, m = np.empty((T_met, chains)), np.empty((T_met, chains))
    for t in range(T_met):
        backend.lattice_sweeps(spins, K_C, 0.0, "periodic", "metropolis", 1, rng)
        u[t], m[t] = _observables(model, spins)
    n_cost = max(200, 2_000_000 // N)  # cost per sweep from one long call (no per-call overhead)
    t0 = time.process_time()
    backend.lattice_sweeps(spins, K_C, 0.0, "periodic", "metropolis", n_cost, rng)
    sweep_cost = (time.process_time() - t0) / (n_cost * chains)
    rows["metropolis"] = {
        "tau_u": integrated_autocorrelation_time(u), "tau_m": integrated_autocorrelation_time(m),
        "sweep_cost_s": sweep_cost, "samples": T_met,
    }

    # Wolff: one record per cluster; a cluster costs ⟨size⟩/N sweeps
    spins = np.ones((chains, L, L), np.int8)
    rng = backend.make_rng(np.random.SeedSequence([seed, L, 1]), chains)
    backend.wolff_updates(spins, K_C, "periodic", 500, rng)
    u, m = np.empty((T_wolff, chains)), np.empty((T_wolff, chains))
    flipped = 0
    for t in range(T_wolff):
        flipped += int(backend.wolff_updates(spins, K_C, "periodic", 1, rng).sum())
        u[t], m[t] = _observables(model, spins)
    sweeps_per_cluster = flipped / (T_wolff * chains * N)
    n_cost = max(200, int(2_000_000 / (N * sweeps_per_cluster)))
    t0 = time.process_time()
    cost_flipped = int(backend.wolff_updates(spins, K_C, "periodic", n_cost, rng).sum())
    cpu = time.process_time() - t0
    rows["wolff"] = {
        "tau_u": integrated_autocorrelation_time(u) * sweeps_per_cluster,
        "tau_m": integrated_autocorrelation_time(m) * sweeps_per_cluster,
        "sweep_cost_s": cpu / (cost_flipped / N), "samples": T_wolff,
        "cluster_fraction": sweeps_per_cluster,
    }
    for row in rows.values():
        row["cpu_per_independent_sample_s"] = 2 * max(row["tau_u"], row["tau_m"]) * row["sweep_cost_s"]
    return rows


@pytest.mark.parametrize("L", [16, 32])
def test_wolff_vs_metropolis_autocorrelation(benchmark, L):
    pytest.importorskip("inverse_ising.backends.cython_backend")
    rows = benchmark.pedantic(measure, args=(L,), rounds=1, iterations=1)
    for name, row in rows.items():
        for key, value in row.items():
            benchmark.extra_info[f"{name}_{key}"] = value
    assert rows["wolff"]["tau_m"] < rows["metropolis"]["tau_m"]


def main(argv):
    sizes = [int(a) for a in argv] or [16, 32, 64]
    print(f"2D Ising at K_c = {K_C:.6f}, periodic, h = 0; τ_int in sweeps (Wolff: spins flipped per site)")
    print(f"{'L':>4} {'sampler':>11} {'τ_int(u)':>9} {'τ_int(|m|)':>10} {'µs/sweep':>9} {'ms per indep. sample':>21}")
    for L in sizes:
        for name, row in measure(L).items():
            print(f"{L:>4} {name:>11} {row['tau_u']:>9.2f} {row['tau_m']:>10.2f} {row['sweep_cost_s'] * 1e6:>9.2f} "
                  f"{row['cpu_per_independent_sample_s'] * 1e3:>21.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
