"""The default learners on the named near-critical member: outcome, P(K) and couplings.

Builds ``near_critical_model(50, NEAR_CRITICAL_BETA)`` and 40 000 states of it
(``near_critical_data``: one short chain per state, started silent), then fits them with the
default Boltzmann learner (``fit(X, model="pairwise", method="boltzmann", seed=s)``) and with
pseudo-likelihood. Each model (the truth too) is sampled like the data but with chains started
from the data's states (``near_critical_data(M, model, init=X)``), and the script prints per
model: the outcome (converged / diverged, iterations, seconds), the P(K) divergence
D_KL(P_data ‖ P_model) in bits (``neural_stats.pk_kl_divergence``), the mean activity of the
model's states, and the coupling RMSE against the truth (in the ±1 form, J).

    python benchmarks/near_critical.py [--seeds 1 2] [--max-iter 300] [--beta B] [--coupling-sum G]
"""
import argparse
import time

import numpy as np

import inverse_ising as ii
from inverse_ising import synthetic
from inverse_ising.neural_stats import pk_kl_divergence, rms, spike_count_distribution


def summary(name, model, data, truth, seed, outcome):
    X = data.spins
    states = synthetic.near_critical_data(X.shape[0], model, seed=seed + 100, init=X).spins
    p_data, _ = spike_count_distribution(X, n_blocks=None)
    p_model, _ = spike_count_distribution(states, n_blocks=None)
    iu = np.triu_indices(truth.n_spins, 1)
    K = (states.astype(np.int64) + 1).sum(axis=1) // 2
    print(f"{name:<22} {outcome:<34} KL {pk_kl_divergence(p_data, p_model, n_model=X.shape[0]):7.4f} bits  "
          f"activity {(1 + states.mean()) / 2:6.3f}  K≥40 {np.mean(K >= 40):6.4f}  "
          f"J RMSE {rms(model.J[iu], truth.J[iu]):6.3f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--max-iter", type=int, default=300)
    ap.add_argument("--beta", type=float, default=synthetic.NEAR_CRITICAL_BETA)
    ap.add_argument("--coupling-sum", type=float, default=None)
    ap.add_argument("--samples", type=int, default=40000)
    args = ap.parse_args()
    extra = {} if args.coupling_sum is None else {"coupling_sum": args.coupling_sum}
    truth_synth = synthetic.near_critical_model(50, args.beta, seed=0, **extra)
    truth = truth_synth.model
    data = synthetic.near_critical_data(args.samples, truth_synth, seed=1)
    X = data.spins
    K = (X.astype(np.int64) + 1).sum(axis=1) // 2
    print(f"member {truth_synth.params}")
    print(f"data: M = {X.shape[0]}, mean activity {(1 + X.mean()) / 2:.3f}, K max {K.max()}, "
          f"K 99.9 % {np.quantile(K, 0.999):.0f}, fraction K≥40 {np.mean(K >= 40):.4f}", flush=True)
    summary("truth", truth, data, truth, 0, "-")
    t0 = time.perf_counter()
    pl = ii.fit(X, model="pairwise", method="pseudolikelihood")
    summary("pseudo-likelihood", pl.model, data, truth, 0, f"{time.perf_counter() - t0:.1f} s")
    for seed in args.seeds:
        t0 = time.perf_counter()
        try:
            res = ii.fit(X, model="pairwise", method="boltzmann", seed=seed, max_iter=args.max_iter, progress=False)
        except ii.FitDivergedError as err:
            print(f"{'boltzmann seed ' + str(seed):<22} diverged after {time.perf_counter() - t0:.0f} s: {err}",
                  flush=True)
            continue
        outcome = (f"{'converged' if res.converged else 'not converged'} it {res.iterations} "
                   f"{time.perf_counter() - t0:.0f} s msz {res.msz:.3f}")
        summary(f"boltzmann seed {seed}", res.model, data, truth, seed, outcome)


if __name__ == "__main__":
    main()
