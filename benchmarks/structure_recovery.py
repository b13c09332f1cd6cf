"""Samples needed for exact structure recovery: RISE, logRISE and pseudo-likelihood on planted graphs.

Planted models (no fields, exact samples from ``inverse_ising.exact.exact_sample``):

* ``rrg``: a random 3-regular graph on N spins (``--spins``, default 16) with couplings ±β of
  random signs (a spin glass);
* ``lattice``: the L × L periodic square lattice (L = √N, default 4 × 4), ferromagnetic,
  every coupling +β.

For each model, each β (``--betas``) and each method, the script walks up a doubling grid of
sample sizes M (``--min-samples`` … ``--max-samples``) and reports the smallest M at which the
graph is recovered exactly in at least ``--successes`` of ``--trials`` independent data sets
(default 45 of 50).  The graph of an estimate is ``recovered_graph(J, κ/2)`` with κ = β, the
smallest planted |Jᵢⱼ| (the rule of Vuffray et al. 2016 and Lokhov et al. 2018), or the
largest-gap rule (``--rule gap``).  Methods: ``fit_interaction_screening`` with its defaults
(logRISE, and RISE with ``log=False``) and ``fit_pseudolikelihood`` with its defaults
(``--methods``; ``ISE-l1=0`` is interaction screening without the penalty, where RISE and
logRISE coincide, to separate the effect of the objective from that of the L1 term).  The
data of one (model, β, M, trial) are shared by the three methods.  A level stops early once its
outcome is settled (enough successes, or too many failures).

    python benchmarks/structure_recovery.py [--graphs rrg lattice] [--betas 0.4 0.7 1.0]
        [--trials 50] [--successes 45] [--spins 16] [--min-samples 128] [--max-samples 131072]
        [--rule kappa|gap] [--methods logRISE RISE PL ISE-l1=0] [--seed 0] [--figure PATH]
"""
import argparse
import math
import os
import sys
import tempfile
import time

import numpy as np

import inverse_ising as ii
from inverse_ising.exact import exact_sample
from inverse_ising.interaction_screening import fit_interaction_screening, random_regular_graph, recovered_graph
from inverse_ising.pseudolikelihood import fit_pseudolikelihood

ESTIMATORS = {
    "logRISE": lambda X: fit_interaction_screening(X, log=True, warn=False)[1],
    "RISE": lambda X: fit_interaction_screening(X, log=False, warn=False)[1],
    "PL": lambda X: fit_pseudolikelihood(X, warn=False)[1],
    "ISE-l1=0": lambda X: fit_interaction_screening(X, l1=0.0, warn=False)[1],
}


def planted(graph, n, beta, seed):
    """(PairwiseIsing with zero fields, boolean adjacency) of a planted model."""
    rng = np.random.default_rng(seed)
    if graph == "rrg":
        adj = random_regular_graph(n, 3, seed=rng)
        signs = np.triu(rng.choice([-1.0, 1.0], size=(n, n)), 1)
        J = beta * adj * (signs + signs.T)
    else:
        L = math.isqrt(n)
        J = ii.LatticeIsing(L, beta, 0.0, "periodic").to_pairwise().J
        adj = J != 0
    return ii.PairwiseIsing(np.zeros(n), J), adj


def smallest_m(model, adj, beta, grid, args, seed, log, methods):
    """{method: smallest M on the grid with ≥ successes of trials exact recoveries, or None}."""
    threshold = beta / 2 if args.rule == "kappa" else None
    result = {name: None for name in methods}
    pending = list(methods)
    for level, M in enumerate(grid):
        tally = {name: [0, 0] for name in pending}         # [successes, failures]
        for t in range(args.trials):
            live = [name for name in pending
                    if tally[name][0] < args.successes and tally[name][1] <= args.trials - args.successes]
            if not live:
                break
            X = exact_sample(model, M, seed=np.random.SeedSequence([seed, level, t]))
            for name in live:
                ok = np.array_equal(recovered_graph(ESTIMATORS[name](X), threshold), adj)
                tally[name][0 if ok else 1] += 1
        for name in list(pending):
            s, f = tally[name]
            log(f"    M = {M:>7}  {name:<8} {s} recovered, {f} failed")
            if s >= args.successes:
                result[name] = M
                pending.remove(name)
        if not pending:
            break
    return result


def figure(rows, methods, path):
    from matplotlib.figure import Figure

    graphs = sorted({r[0] for r in rows})
    fig = Figure(figsize=(4.5 * len(graphs), 3.6))
    for k, g in enumerate(graphs):
        ax = fig.add_subplot(1, len(graphs), k + 1)
        for name, marker in zip(methods, "os^D"):
            pts = [(beta, res[name]) for gr, beta, res in rows if gr == g and res[name] is not None]
            if pts:
                ax.plot(*zip(*pts), marker=marker, label=name)
        ax.set_yscale("log", base=2)
        ax.set_xlabel("β")
        ax.set_ylabel("smallest M for exact recovery")
        ax.set_title(g)
        ax.legend()
    fig.tight_layout()
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=os.path.splitext(path)[1])
    os.close(fd)
    try:
        fig.savefig(tmp)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--graphs", nargs="+", choices=["rrg", "lattice"], default=["rrg", "lattice"])
    ap.add_argument("--betas", type=float, nargs="+", default=[0.4, 0.7, 1.0])
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--successes", type=int, default=45)
    ap.add_argument("--spins", type=int, default=16)
    ap.add_argument("--min-samples", type=int, default=128)
    ap.add_argument("--max-samples", type=int, default=131072)
    ap.add_argument("--rule", choices=["kappa", "gap"], default="kappa")
    ap.add_argument("--methods", nargs="+", choices=list(ESTIMATORS), default=["logRISE", "RISE", "PL"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--figure", default=None, help="write a figure (png, pdf, svg) to this path")
    ap.add_argument("--quiet", action="store_true", help="print the table only")
    args = ap.parse_args()
    problems = []
    if not 1 <= args.successes <= args.trials:
        problems.append(f"--successes must be in 1 … --trials ({args.trials}), got {args.successes}")
    if not 2 <= args.spins <= 20:
        problems.append(f"--spins must be in 2 … 20 (exact sampling), got {args.spins}")
    if "lattice" in args.graphs and (math.isqrt(args.spins) ** 2 != args.spins or args.spins < 9):
        problems.append(f"--spins must be a square ≥ 9 for the lattice, got {args.spins}")
    if not 1 <= args.min_samples <= args.max_samples:
        problems.append("--min-samples must be between 1 and --max-samples")
    if any(b <= 0 for b in args.betas):
        problems.append("--betas must be positive")
    if args.figure and not os.path.isdir(os.path.dirname(os.path.abspath(args.figure))):
        problems.append(f"--figure: no directory for {args.figure}")
    if problems:
        print(f"structure_recovery: {problems[0]}", file=sys.stderr)
        sys.exit(2)

    grid = []
    M = args.min_samples
    while M <= args.max_samples:
        grid.append(M)
        M *= 2
    log = (lambda *_: None) if args.quiet else (lambda msg: print(msg, flush=True))
    rows = []
    t0 = time.perf_counter()
    for g, graph in enumerate(args.graphs):
        for b, beta in enumerate(args.betas):
            model, adj = planted(graph, args.spins, beta, seed=[args.seed, g])
            log(f"{graph}, β = {beta}: {int(adj.sum()) // 2} edges")
            rows.append((graph, beta, smallest_m(model, adj, beta, grid, args, [args.seed, g, b], log, args.methods)))
    print(f"\nsmallest M (grid {grid[0]} … {grid[-1]}, ×2) with exact recovery in ≥ {args.successes} of "
          f"{args.trials} trials; N = {args.spins}, rule {args.rule}; {time.perf_counter() - t0:.0f} s")
    print(f"{'graph':<8} {'β':>5} " + " ".join(f"{name:>9}" for name in args.methods))
    for graph, beta, res in rows:
        print(f"{graph:<8} {beta:>5.2f} " + " ".join(
            f"{(str(res[name]) if res[name] else '> ' + str(grid[-1])):>9}" for name in args.methods))
    if args.figure:
        figure(rows, args.methods, args.figure)
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
