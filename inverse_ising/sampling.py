"""Sampling drivers: independent Markov chains of equilibrium models, and kinetic simulation.

The drivers own the schedules (burn-in, thinning, chains, seeding, progress) and call only the
kernel interface of :class:`inverse_ising.backend.Backend`, so every backend runs the same schedule.

Seeding (SPEC §2): one ``seed`` → ``SeedSequence(seed)``; the backend picks this process's child
(``local_seed``), which is split into a child for the initial states and one for the kernels'
generator (the Cython backend spawns one grandchild per chain from it).
"""
import math

import numpy as np

from .backend import check_rule, get_backend, seed_sequence
from .errors import InputError
from .models import KineticIsing
from .progress import progress_bar
from .validation import as_positive_int, as_spins

EQUILIBRIUM_KINDS = ("pairwise", "lattice")
PROGRESS_BLOCK = 20  # sweeps (or 50× as many kinetic steps) between progress updates


class Chains:
    """``n_chains`` independent Markov chains of an equilibrium model, advanced in sweeps.

    One sweep is N update attempts: a checkerboard pass over the lattice, or sites 0..N−1 of
    the pairwise model. ``init`` is "random" (independent ±1 spins), "up" (all +1), or an
    (M, N) array of states (e.g. data) from which each chain draws its starting row.
    Under the MPI backend this process holds only its share of the chains (``spins``), and
    :meth:`statistics` sums over all of them.
    """

    def __init__(self, model, n_chains, rule="metropolis", backend="auto", seed=None, init="random"):
        if getattr(model, "kind", None) not in EQUILIBRIUM_KINDS:
            raise InputError(f"equilibrium sampling needs a LatticeIsing or PairwiseIsing model, got {model!r}")
        self.backend = get_backend(backend)
        self.rule = check_rule(rule)
        self.model = model
        self.n_chains = as_positive_int(n_chains, "n_chains")
        self.n_local = self.backend.local_chains(self.n_chains)
        init_seed, kernel_seed = self.backend.local_seed(seed_sequence(seed)).spawn(2)
        self.rng = self.backend.make_rng(kernel_seed, self.n_local)
        self.spins = self._initial_states(init, np.random.default_rng(init_seed))

    def _initial_states(self, init, rng):
        N = self.model.n_spins
        if isinstance(init, str):
            if init == "random":
                return (2 * rng.integers(0, 2, size=(self.n_local, N)) - 1).astype(np.int8)
            if init == "up":
                return np.ones((self.n_local, N), dtype=np.int8)
            raise InputError(f"init must be 'random', 'up' or an array of states, got {init!r}")
        states = as_spins(init, name="initial states")
        states = states.reshape(states.shape[0], -1) if states.ndim > 1 else states.reshape(1, -1)
        if states.shape[1] != N:
            raise InputError(f"initial states have {states.shape[1]} spins but the model has {N}")
        return states[rng.integers(0, states.shape[0], size=self.n_local)].copy()

    def reseed(self, seed_seq):
        """A fresh kernel generator for this process's chains from ``seed_seq`` (learners reseed
        every iteration, so that a resumed run draws the same numbers)."""
        self.rng = self.backend.make_rng(seed_seq, self.n_local)

    def snapshot(self):
        """A copy of this process's chain states, one row per chain (see :meth:`restore`)."""
        return self.spins.reshape(self.n_local, -1).copy()

    def restore(self, rows):
        """Set the chain states from rows of :meth:`snapshot`."""
        self.spins[...] = np.asarray(rows).reshape(self.spins.shape)

    def set_model(self, model):
        """Continue the same chains under new parameters (persistent chains of a learner)."""
        if model.kind != self.model.kind or model.n_spins != self.model.n_spins:
            raise InputError(f"cannot switch chains of {self.model!r} to {model!r}")
        self.model = model

    def sweep(self, n_sweeps=1, uniforms=None):
        """Advance every chain by ``n_sweeps`` sweeps (optionally with explicit uniforms)."""
        m = self.model
        if m.kind == "lattice":
            grids = self.spins.reshape(self.n_local, m.L, m.L)
            self.backend.lattice_sweeps(grids, m.J, m.h, m.boundary, self.rule, n_sweeps, self.rng, uniforms)
        else:
            self.backend.pairwise_sweeps(self.spins, m.h, m.J, self.rule, n_sweeps, self.rng, uniforms)

    def statistics(self):
        """(n, Σ sᵢ, Σ sᵢsⱼ) over the current states of all chains (all processes)."""
        sum_s, sum_ss = self.backend.sufficient_statistics(self.spins)
        packed = self.backend.allreduce_sum(np.concatenate([[self.n_local], sum_s, sum_ss.ravel()]))
        N = self.model.n_spins
        return int(packed[0]), packed[1:N + 1], packed[N + 1:].reshape(N, N)


def sample(model, n_samples, rule="metropolis", backend="auto", seed=None, n_chains=None,
           burn_in=1000, thin=10, init="random", progress=None):
    """Draw ``n_samples`` states of an equilibrium model from independent Markov chains.

    ``n_chains`` chains (default min(n_samples, 100)) each run ``burn_in`` sweeps, then record
    their state every ``thin`` sweeps until n_samples states are collected. Returns an
    (n_samples, N) int8 array ordered by time, then chain: row t·n_chains + c is chain c after
    burn_in + (t + 1)·thin sweeps. Under MPI the full array is returned on the root and None
    elsewhere.
    """
    n_samples = as_positive_int(n_samples, "n_samples")
    n_chains = min(n_samples, 100) if n_chains is None else as_positive_int(n_chains, "n_chains")
    burn_in = as_positive_int(burn_in, "burn_in", minimum=0)
    thin = as_positive_int(thin, "thin")
    chains = Chains(model, n_chains, rule, backend, seed, init)
    per_chain = math.ceil(n_samples / n_chains)
    recorded = np.empty((chains.n_local, per_chain, model.n_spins), dtype=np.int8)
    with progress_bar(burn_in + per_chain * thin, f"sampling {model!r}", progress, chains.backend) as bar:
        for start in range(0, burn_in, PROGRESS_BLOCK):
            n = min(PROGRESS_BLOCK, burn_in - start)
            chains.sweep(n)
            bar.update(n)
        for t in range(per_chain):
            chains.sweep(thin)
            bar.update(thin)
            recorded[:, t] = chains.spins
    gathered = chains.backend.gather_rows(recorded.reshape(chains.n_local, per_chain * model.n_spins))
    if gathered is None:
        return None
    by_time = gathered.reshape(n_chains, per_chain, model.n_spins).transpose(1, 0, 2)
    return np.ascontiguousarray(by_time.reshape(-1, model.n_spins)[:n_samples])


def simulate(model, n_steps, seed=None, n_trials=None, s0=None, burn_in=0, backend="auto", progress=None):
    """Run the kinetic Ising model's parallel Glauber dynamics for ``n_steps`` steps.

    Returns the states after steps 1..n_steps, (n_steps, N) int8, or (n_trials, n_steps, N) for
    ``n_trials`` independent trials. ``s0`` is the initial state (default: random ±1); the first
    ``burn_in`` steps are discarded.
    """
    if not isinstance(model, KineticIsing):
        raise InputError(f"simulate needs a KineticIsing model, got {model!r} (use sample for equilibrium models)")
    n_steps = as_positive_int(n_steps, "n_steps")
    burn_in = as_positive_int(burn_in, "burn_in", minimum=0)
    trials = 1 if n_trials is None else as_positive_int(n_trials, "n_trials")
    backend = get_backend(backend)
    init_seed, kernel_seed = seed_sequence(seed).spawn(2)
    N = model.n_spins
    if s0 is None:
        spins = (2 * np.random.default_rng(init_seed).integers(0, 2, size=(trials, N)) - 1).astype(np.int8)
    else:
        start = as_spins(s0, name="s0")
        if start.size not in (N, trials * N):
            raise InputError(f"s0 must hold {N} spins (or {trials}×{N}), got shape {np.shape(s0)}")
        spins = np.array(np.broadcast_to(start.reshape(-1, N), (trials, N)), dtype=np.int8)
    rng = backend.make_rng(kernel_seed, trials)
    out = np.empty((n_steps, trials, N), dtype=np.int8)
    block = 50 * PROGRESS_BLOCK
    with progress_bar(burn_in + n_steps, "simulating kinetic Ising", progress, backend, unit="step") as bar:
        done = 0
        while done < burn_in:
            k = min(block, burn_in - done)
            backend.kinetic_steps(spins, model.h, model.J, k, rng)
            done += k
            bar.update(k)
        done = 0
        while done < n_steps:
            k = min(block, n_steps - done)
            backend.kinetic_steps(spins, model.h, model.J, k, rng, out=out[done:done + k])
            done += k
            bar.update(k)
    return out[:, 0] if n_trials is None else np.ascontiguousarray(out.transpose(1, 0, 2))
