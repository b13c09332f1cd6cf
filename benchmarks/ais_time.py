"""Seconds for ln Z by annealed importance sampling against N, on retina-like pairwise models.

For every N the model is ``synthetic.retina_pairwise_model(N, connectivity=d/(N − 1))``: each
neuron has about d partners (default 6, the default model's density at N = 40; the default
connectivity 0.15 at N ≥ 100 gives a model whose all-active state dominates).  ``log_partition``
runs with every option at its default (pilot, automatic K, 256 particles, reverse run) and
``method="ais"`` also at N ≤ 20, where enumeration gives the error.  The table gives K, the
seconds of the whole call, what ``estimate_cost`` predicts for the same P and K (plus the pilot),
the memory estimate, the standard error reached, and the reverse and bridge estimates less the
forward one.  ``--calibrate S`` then repeats the N ≤ 20 runs with S seeds and gives the mean and
standard deviation of z = (estimate − exact)/stderr for the forward, reverse and bridge estimates
(0 and 1 when the errors are right).

    python benchmarks/ais_time.py [--sizes 20 50 100 200] [--degree 6] [--seed 1] [--calibrate 0]
"""
import argparse
import time

import numpy as np

import inverse_ising as ii
from inverse_ising.log_partition import estimate_cost, log_partition
from inverse_ising.synthetic import retina_pairwise_model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 50, 100, 200])
    ap.add_argument("--degree", type=float, default=6.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--calibrate", type=int, default=0)
    args = ap.parse_args()
    print(f"{'N':>4} {'K':>5} {'P':>4} {'s':>6} {'pred s':>6} {'MB':>6} {'ln Z':>9} {'stderr':>7} {'rev-fwd':>8} "
          f"{'br-fwd':>7} {'ESS':>5} {'exact err':>9}")
    for n in args.sizes:
        model = retina_pairwise_model(n, connectivity=min(1.0, args.degree / (n - 1))).model
        t0 = time.perf_counter()
        est = log_partition(model, method="ais", seed=args.seed, progress=False)
        seconds = time.perf_counter() - t0
        cost = estimate_cost(model, est.n_particles, est.n_temperatures)
        exact = f"{est.value - ii.exact_log_z(model):+9.4f}" if n <= 20 else f"{'':>9}"
        print(f"{n:4d} {est.n_temperatures:5d} {est.n_particles:4d} {seconds:6.1f} {cost.seconds:6.1f} "
              f"{cost.memory_bytes / 1e6:6.2f} {est.value:9.3f} {est.stderr:7.4f} {est.reverse - est.value:+8.4f} "
              f"{est.bridge - est.value:+7.4f} {est.ess:5.0f} {exact}", flush=True)
    for n in [n for n in args.sizes if n <= 20] if args.calibrate else []:
        model = retina_pairwise_model(n, connectivity=min(1.0, args.degree / (n - 1))).model
        exact = ii.exact_log_z(model)
        z = []
        for seed in range(args.calibrate):
            est = log_partition(model, method="ais", seed=seed, progress=False)
            z.append([(est.value - exact) / est.stderr, (est.reverse - exact) / est.reverse_stderr,
                      (est.bridge - exact) / est.bridge_stderr])
        z = np.array(z)
        print(f"N = {n}, {args.calibrate} seeds: z mean/sd forward {z[:, 0].mean():+.2f}/{z[:, 0].std():.2f}, "
              f"reverse {z[:, 1].mean():+.2f}/{z[:, 1].std():.2f}, bridge {z[:, 2].mean():+.2f}/{z[:, 2].std():.2f}")


if __name__ == "__main__":
    main()
