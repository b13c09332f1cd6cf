"""Parallel tempering (replica exchange) of the pairwise model, for learners whose chains mix poorly.

Near a phase boundary a pairwise model can have two basins (a sparse state and a high-activity
state) separated by a barrier that single-spin chains cross rarely: a chain stays where it
started, and the moments of a set of chains depend on how many fell into each basin.  Replica
exchange (Swendsen & Wang 1986; Geyer 1991; Hukushima & Nemoto 1996) runs R copies of every
chain at inverse temperatures 1 = β₀ > β₁ > … > β_{R−1}, copy k sampling

    p_k(s) ∝ exp(β_k log w(s)) = exp(−β_k E(s)),   E(s) = −Σᵢ hᵢsᵢ − Σ_{i<j} Jᵢⱼsᵢsⱼ,

and after every sweep proposes to exchange the states of neighbouring copies k, k + 1 of the same
chain, accepted with probability

    min(1, exp((β_k − β_{k+1}) (E(s_k) − E(s_{k+1})))),

which leaves the product of the p_k invariant; the hot copies cross the barrier and hand their
states down.  Only the β = 1 copies (:attr:`TemperedChains.spins`) are a sample of the model.

Temperatures are placed adaptively (:meth:`TemperedChains.adapt`): a gap whose exchange rate is
below ``MIN_ACCEPT`` gets a new temperature in its middle, and a temperature whose two gaps both
exchange more than ``MAX_ACCEPT`` is dropped, so that states travel the whole ladder; the hottest
temperature is ``beta_min`` (default 0.4).  Exchanges use a numpy generator of their own, seeded
from the chains' seed; under MPI every process exchanges its own chains.
"""
import numpy as np

from .errors import InputError

MIN_ACCEPT = 0.2
MAX_ACCEPT = 0.7
MAX_TEMPERATURES = 24


def pairwise_energy(model, spins):
    """E(s) = −Σᵢ hᵢsᵢ − ½ Σᵢⱼ Jᵢⱼsᵢsⱼ for every row of ``spins`` (float64)."""
    S = spins.astype(np.float64)
    return -(S @ model.h + 0.5 * np.einsum("ki,ki->k", S @ model.J, S))


class TemperedChains:
    """``n_chains`` chains of a pairwise model at β = 1, each with copies at higher temperatures.

    The interface of :class:`inverse_ising.sampling.Chains` that the learners use: ``spins`` (the
    β = 1 states), ``model``, ``set_model``, ``sweep``, ``reseed``, ``snapshot``, ``restore``,
    ``n_local``, ``n_chains``, ``backend``, ``rule``.  ``betas`` holds the ladder; ``accept_rates`` the exchange rate of each
    gap since the last :meth:`adapt`.
    """

    def __init__(self, chains, betas=(1.0, 0.8, 0.6, 0.4), seed=None):
        """Copies of ``chains`` (their current states) at every temperature of ``betas``; without a
        ``seed``, :meth:`reseed` must be called before sweeping."""
        if chains.model.kind != "pairwise":
            raise InputError("parallel tempering is implemented for the pairwise model")
        betas = np.asarray(betas, dtype=float)
        if betas[0] != 1.0 or np.any(np.diff(betas) >= 0) or betas[-1] <= 0:
            raise InputError(f"betas must start at 1 and decrease to a positive value, got {betas}")
        self.backend, self.rule = chains.backend, chains.rule
        self.n_chains, self.n_local = chains.n_chains, chains.n_local
        self.model = chains.model
        self.betas = betas
        # copy k of every chain: row block k of ``states``; all copies start from the β = 1 states
        self.states = np.concatenate([chains.spins] * len(betas))
        self._seed_seq, self.rngs = None, None
        if seed is not None:
            self.reseed(seed)
        self._reset_counts()

    # -- the Chains interface ------------------------------------------------------------------
    @property
    def spins(self):
        return self.states[:self.n_local]

    def set_model(self, model):
        if model.kind != "pairwise" or model.n_spins != self.model.n_spins:
            raise InputError(f"cannot switch tempered chains of {self.model!r} to {model!r}")
        self.model = model

    def reseed(self, seed_seq):
        """Fresh generators for the sweeps of every copy and for the exchanges, from ``seed_seq``."""
        self._seed_seq = seed_seq
        children = seed_sequence_children(seed_seq, len(self.betas) + 1)
        self.rngs = [self.backend.make_rng(c, self.n_local) for c in children[:-1]]
        self.exchange_rng = np.random.default_rng(children[-1])

    def snapshot(self):
        """This process's states, one row per chain holding its copies at every temperature
        (β = 1 first), so that rows gathered from several processes stay whole chains."""
        R, C = len(self.betas), self.n_local
        return self.states.reshape(R, C, -1).transpose(1, 0, 2).reshape(C, -1).copy()

    def restore(self, rows, betas=None):
        """Set the states (and the ladder, when ``betas`` is given) from rows of :meth:`snapshot`."""
        if betas is not None:
            self.betas = np.asarray(betas, dtype=float)
            self._reset_counts()
            self.rngs = None  # the ladder changed: reseed before sweeping
        R, C = len(self.betas), self.n_local
        self.states = np.ascontiguousarray(np.asarray(rows, dtype=np.int8).reshape(C, R, -1).transpose(1, 0, 2)
                                           .reshape(R * C, -1))

    def sweep(self, n_sweeps=1):
        """``n_sweeps`` times: one sweep of every copy at its temperature, then exchanges."""
        C, m = self.n_local, self.model
        for _ in range(int(n_sweeps)):
            for k, beta in enumerate(self.betas):
                block = self.states[k * C:(k + 1) * C]
                self.backend.pairwise_sweeps(block, beta * m.h, beta * m.J, self.rule, 1, self.rngs[k])
            self._exchange()

    # -- exchanges and the ladder ------------------------------------------------------------
    def _exchange(self):
        C, R = self.n_local, len(self.betas)
        energy = pairwise_energy(self.model, self.states).reshape(R, C)
        for parity in (0, 1):
            for k in range(parity, R - 1, 2):
                log_ratio = (self.betas[k] - self.betas[k + 1]) * (energy[k] - energy[k + 1])
                u = self.exchange_rng.random(C)
                swap = u < np.exp(np.minimum(log_ratio, 0.0))
                lo, hi = self.states[k * C:(k + 1) * C], self.states[(k + 1) * C:(k + 2) * C]
                lo[swap], hi[swap] = hi[swap], lo[swap].copy()
                energy[k, swap], energy[k + 1, swap] = energy[k + 1, swap], energy[k, swap]
                self.tries[k] += C
                self.accepted[k] += np.count_nonzero(swap)

    def _reset_counts(self):
        self.tries = np.zeros(len(self.betas) - 1)
        self.accepted = np.zeros(len(self.betas) - 1)

    @property
    def accept_rates(self):
        counts = self.backend.allreduce_sum(np.concatenate([self.accepted, self.tries]))
        R1 = len(self.betas) - 1
        return counts[:R1] / np.maximum(counts[R1:], 1)

    def adapt(self):
        """Re-place the temperatures from the exchange rates seen since the last call (see the
        module text); new copies start from the states of their hotter neighbour."""
        rates = self.accept_rates
        betas, states = list(self.betas), list(np.split(self.states, len(self.betas)))
        for k in reversed(range(len(rates))):  # insert from the hot end, so indices stay valid
            if rates[k] < MIN_ACCEPT and len(betas) < MAX_TEMPERATURES:
                betas.insert(k + 1, 0.5 * (betas[k] + betas[k + 1]))
                states.insert(k + 1, states[k + 1].copy())
        if len(betas) == len(self.betas):  # nothing inserted: drop a temperature that is not needed
            for k in range(1, len(rates)):
                if rates[k - 1] > MAX_ACCEPT and rates[k] > MAX_ACCEPT and len(betas) > 2:
                    del betas[k], states[k]
                    break
        if len(betas) != len(self.betas):
            self.betas = np.array(betas)
            self.states = np.concatenate(states)
            self.reseed(self._seed_seq.spawn(1)[0])
        self._reset_counts()
        return rates


def seed_sequence_children(seed_seq, n):
    """``n`` children of ``seed_seq`` (without advancing its spawn counter)."""
    return [np.random.SeedSequence(seed_seq.entropy, spawn_key=tuple(seed_seq.spawn_key) + (k,)) for k in range(n)]

