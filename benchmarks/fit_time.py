"""Seconds to a converged default Boltzmann fit against pseudo-likelihood, on near-critical data.

The data are ``--samples`` states of the near-critical retina-like member
``synthetic.near_critical_model(cells, beta)`` (``synthetic.near_critical_data``: short chains
from the silent state).  For every seed, pseudo-likelihood (``fit(X, method="pseudolikelihood")``)
and the default Boltzmann learner (``fit(X, seed=s)``, every option at its default) run one after
the other, so that the host's speed hits both alike; the ratio of the two times is the figure.
Each model is then sampled from the data's states like the data (``near_critical_data(M, model,
init=X)``) and its P(K) compared with the data's (D_KL in bits, ``neural_stats.pk_kl_divergence``).

    python benchmarks/fit_time.py [--cells 60] [--samples 40000] [--seeds 1 2 3]
"""
import argparse
import time

import numpy as np

import inverse_ising as ii
from inverse_ising import synthetic
from inverse_ising.neural_stats import pk_kl_divergence, spike_count_distribution


def sampled_kl(model, data, seed):
    X = data.spins
    states = synthetic.near_critical_data(X.shape[0], model, seed=seed, init=X).spins
    p_data, _ = spike_count_distribution(X, n_blocks=None)
    p_model, _ = spike_count_distribution(states, n_blocks=None)
    return pk_kl_divergence(p_data, p_model, n_model=X.shape[0]), (1 + states.mean()) / 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=60)
    ap.add_argument("--beta", type=float, default=synthetic.NEAR_CRITICAL_BETA)
    ap.add_argument("--samples", type=int, default=40000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = ap.parse_args()
    truth = synthetic.near_critical_model(args.cells, args.beta, seed=0)
    data = synthetic.near_critical_data(args.samples, truth, seed=1)
    X = data.spins
    K = (X.astype(np.int64) + 1).sum(axis=1) // 2
    print(f"data: N = {X.shape[1]}, M = {X.shape[0]}, mean activity {(1 + X.mean()) / 2:.3f}, K max {K.max()}")
    kl, act = sampled_kl(truth.model, data, 0)
    print(f"{'truth':<16} P(K) KL {kl:.4f} bits, activity {act:.3f}", flush=True)
    print(f"{'seed':<6} {'PL s':>6} {'BM s':>7} {'BM/PL':>6}  {'outcome':<26} {'PL KL':>7} {'BM KL':>7}")
    for seed in args.seeds:
        t0 = time.perf_counter()
        pl = ii.fit(X, method="pseudolikelihood")
        t_pl = time.perf_counter() - t0
        t0 = time.perf_counter()
        try:
            bm = ii.fit(X, seed=seed, progress=False)
            outcome = f"{'converged' if bm.converged else 'NOT converged'}, {bm.iterations} it"
        except ii.FitDivergedError as err:
            bm, outcome = None, f"diverged ({str(err)[:40]}...)"
        t_bm = time.perf_counter() - t0
        kl_pl, _ = sampled_kl(pl.model, data, seed)
        kl_bm = sampled_kl(bm.model, data, seed)[0] if bm is not None else float("nan")
        print(f"{seed:<6} {t_pl:6.1f} {t_bm:7.1f} {t_bm / t_pl:6.1f}  {outcome:<26} {kl_pl:7.4f} {kl_bm:7.4f}",
              flush=True)


if __name__ == "__main__":
    main()
