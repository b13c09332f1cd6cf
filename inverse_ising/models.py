"""The three forward models of the package (SPEC §1), with validated parameters.

Spins are s ∈ {−1, +1} (int8) and temperature is folded into the parameters (β = 1).
Positive couplings are ferromagnetic.

* :class:`PairwiseIsing` — p(s) = exp(Σᵢ hᵢsᵢ + Σ_{i<j} Jᵢⱼsᵢsⱼ) / Z (Boltzmann machine).
* :class:`LatticeIsing`  — p(s) = exp(J Σ_⟨ij⟩ sᵢsⱼ + h Σᵢ sᵢ) / Z on an L×L square lattice.
* :class:`KineticIsing`  — P(s(t+1) | s(t)) = Πᵢ exp(sᵢ(t+1)Hᵢ(t)) / (2 cosh Hᵢ(t)),
  Hᵢ(t) = hᵢ + Σⱼ Jᵢⱼsⱼ(t).
"""
import numpy as np

from .errors import InputError
from .validation import as_coupling_matrix, as_positive_int, as_scalar, as_spins, as_vector


def _as_states(model, S):
    """Spins as an (M, N) int8 array for a model with N spins (a single state is accepted)."""
    arr = as_spins(S, name="states", allow_binary=False)
    arr = arr.reshape(-1, arr.shape[-1]) if arr.ndim == 1 else arr.reshape(arr.shape[0], -1)
    if arr.shape[1] != model.n_spins:
        raise InputError(f"states have {arr.shape[1]} spins but the model has {model.n_spins}")
    return arr


class PairwiseIsing:
    """Fully connected pairwise model: log p(s) = Σᵢ hᵢsᵢ + ½ Σᵢⱼ Jᵢⱼsᵢsⱼ − ln Z.

    ``J`` must be symmetric with a zero diagonal, so ½ Σᵢⱼ = Σ_{i<j}.
    """

    kind = "pairwise"

    def __init__(self, h, J):
        J = np.asarray(J, dtype=float)
        n = J.shape[0] if J.ndim == 2 else np.asarray(h).size
        self.h = as_vector(h, n, "h")
        self.J = as_coupling_matrix(J, n, "J")

    @property
    def n_spins(self):
        return self.h.size

    def local_fields(self, S):
        """fᵢ = hᵢ + Σⱼ Jᵢⱼsⱼ for each state (row) of S."""
        return self.h + _as_states(self, S) @ self.J

    def log_weight(self, S):
        """Σᵢ hᵢsᵢ + ½ Σᵢⱼ Jᵢⱼsᵢsⱼ for each state (row) of S: log p(s) + ln Z."""
        S = _as_states(self, S).astype(float)
        return S @ self.h + 0.5 * np.einsum("mi,ij,mj->m", S, self.J, S)

    def energy(self, S):
        """E(s) = −log_weight(s)."""
        return -self.log_weight(S)

    def to_pairwise(self):
        return self

    def scaled(self, beta):
        """The model at inverse temperature β: every parameter multiplied by β."""
        beta = as_scalar(beta, "beta")
        return PairwiseIsing(beta * self.h, beta * self.J)

    def __repr__(self):
        return f"PairwiseIsing(N={self.n_spins})"


class LatticeIsing:
    """L×L square-lattice Ising model with uniform J and h, nearest-neighbour bonds counted once.

    log p(s) = J Σ_⟨ij⟩ sᵢsⱼ + h Σᵢ sᵢ − ln Z.  Site k ↔ (row, col) = divmod(k, L).
    With ``boundary="periodic"`` there are 2L² bonds (right and down neighbours with wrap-around;
    at L = 2 each pair is joined twice, as on any torus); with ``"open"`` there are 2L(L−1).
    """

    kind = "lattice"
    BOUNDARIES = ("periodic", "open")

    def __init__(self, L, J=0.0, h=0.0, boundary="periodic"):
        self.L = as_positive_int(L, "L", minimum=2)
        self.J = as_scalar(J, "J")
        self.h = as_scalar(h, "h")
        if boundary not in self.BOUNDARIES:
            raise InputError(f"boundary must be one of {self.BOUNDARIES}, got {boundary!r}")
        self.boundary = boundary

    @property
    def n_spins(self):
        return self.L * self.L

    @property
    def shape(self):
        return (self.L, self.L)

    @property
    def h_total(self):
        """The course notes' total field h_notes = L²·h_site."""
        return self.L * self.L * self.h

    def _grids(self, S):
        return _as_states(self, S).reshape(-1, self.L, self.L).astype(np.int32)

    def bond_sum(self, S):
        """Σ_⟨ij⟩ sᵢsⱼ for each state: each nearest-neighbour bond once."""
        g = self._grids(S)
        if self.boundary == "periodic":
            return (g * np.roll(g, -1, axis=1)).sum(axis=(1, 2)) + (g * np.roll(g, -1, axis=2)).sum(axis=(1, 2))
        return (g[:, :-1, :] * g[:, 1:, :]).sum(axis=(1, 2)) + (g[:, :, :-1] * g[:, :, 1:]).sum(axis=(1, 2))

    def magnetisation_sum(self, S):
        """Σᵢ sᵢ for each state."""
        return _as_states(self, S).sum(axis=1, dtype=np.int64)

    def log_weight(self, S):
        """J Σ_⟨ij⟩ sᵢsⱼ + h Σᵢ sᵢ for each state."""
        return self.J * self.bond_sum(S) + self.h * self.magnetisation_sum(S)

    def energy(self, S):
        """E(s) = −J Σ_⟨ij⟩ sᵢsⱼ − h Σᵢ sᵢ."""
        return -self.log_weight(S)

    def to_pairwise(self):
        """The same distribution as a :class:`PairwiseIsing` (hᵢ = h, Jᵢⱼ = J per bond joining i, j)."""
        L, N = self.L, self.n_spins
        J = np.zeros((N, N))
        for r in range(L):
            for c in range(L):
                k = r * L + c
                for dr, dc in ((0, 1), (1, 0)):
                    rr, cc = r + dr, c + dc
                    if self.boundary == "open" and (rr >= L or cc >= L):
                        continue
                    q = (rr % L) * L + (cc % L)
                    J[k, q] += self.J
                    J[q, k] += self.J
        return PairwiseIsing(np.full(N, self.h), J)

    def scaled(self, beta):
        """The model at inverse temperature β: J and h multiplied by β."""
        beta = as_scalar(beta, "beta")
        return LatticeIsing(self.L, beta * self.J, beta * self.h, self.boundary)

    def __repr__(self):
        return f"LatticeIsing(L={self.L}, J={self.J:g}, h={self.h:g}, boundary={self.boundary!r})"


class KineticIsing:
    """Kinetic Ising model with parallel Glauber dynamics and any (asymmetric) couplings.

    P(s(t+1) | s(t)) = Πᵢ exp(sᵢ(t+1)Hᵢ(t)) / (2 cosh Hᵢ(t)),  Hᵢ(t) = hᵢ + Σⱼ Jᵢⱼsⱼ(t).
    Jᵢⱼ is the influence of spin j at time t on spin i at time t + 1.
    """

    kind = "kinetic"

    def __init__(self, h, J):
        J = np.asarray(J, dtype=float)
        n = J.shape[0] if J.ndim == 2 else np.asarray(h).size
        self.h = as_vector(h, n, "h")
        self.J = as_coupling_matrix(J, n, "J", symmetric=False, zero_diagonal=False)

    @property
    def n_spins(self):
        return self.h.size

    def local_fields(self, S):
        """Hᵢ(t) = hᵢ + Σⱼ Jᵢⱼsⱼ(t) for each state (row) of S."""
        return self.h + _as_states(self, S) @ self.J.T

    def transition_log_prob(self, S_now, S_next):
        """log P(s(t+1) | s(t)) = Σᵢ [sᵢ(t+1)Hᵢ(t) − ln 2cosh Hᵢ(t)] for each pair of rows."""
        H = self.local_fields(S_now)
        S_next = _as_states(self, S_next)
        return (S_next * H - np.logaddexp(H, -H)).sum(axis=1)

    def scaled(self, beta):
        beta = as_scalar(beta, "beta")
        return KineticIsing(beta * self.h, beta * self.J)

    def __repr__(self):
        return f"KineticIsing(N={self.n_spins})"
