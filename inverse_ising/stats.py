"""Observables of spin samples, and error bars that account for autocorrelation.

Per state s (N spins): magnetisation m = Σᵢ sᵢ / N; energy per spin u = E(s)/N with
E = −log_weight (β = 1). Over samples:

* susceptibility χ = N (⟨m²⟩ − ⟨m⟩²); specific heat c = N (⟨u²⟩ − ⟨u⟩²);
* Binder cumulant U = 1 − ⟨m⁴⟩ / (3⟨m²⟩²);
* ⟨sᵢ⟩, ⟨sᵢsⱼ⟩ and the connected correlations Cᵢⱼ = ⟨sᵢsⱼ⟩ − ⟨sᵢ⟩⟨sⱼ⟩.

Error bars. A time series x(t) of one chain has the integrated autocorrelation time
τ_int = ½ + Σ_{t≥1} ρ(t) (Sokal's self-consistent window: sum up to the first W ≥ c·τ_int(W)),
so the variance of its mean is σ²·2τ_int/T. For many independent chains (an array (T, C)) the
autocorrelation function is averaged over chains and the error of the grand mean is
√(σ²·2τ_int/(T·C)). Nonlinear estimators (χ, c, U) get jackknife errors over independent chains.
"""
import numpy as np


def magnetisation(S):
    """m = Σᵢ sᵢ / N for each state (row)."""
    S = np.asarray(S)
    return S.reshape(S.shape[0], -1).mean(axis=1, dtype=np.float64)


def energy_per_spin(model, S):
    """u = E(s)/N = −log_weight(s)/N for each state."""
    return model.energy(S) / model.n_spins


def susceptibility(m, n_spins):
    """χ = N (⟨m²⟩ − ⟨m⟩²)."""
    m = np.asarray(m, dtype=float)
    return n_spins * (np.mean(m * m) - np.mean(m) ** 2)


def specific_heat(u, n_spins):
    """c = N (⟨u²⟩ − ⟨u⟩²) for energies per spin u (β = 1)."""
    return susceptibility(u, n_spins)


def binder_cumulant(m):
    """U = 1 − ⟨m⁴⟩ / (3⟨m²⟩²)."""
    m2 = np.mean(np.asarray(m, dtype=float) ** 2)
    return 1.0 - np.mean(np.asarray(m, dtype=float) ** 4) / (3.0 * m2 * m2)


def moments(S):
    """(⟨sᵢ⟩, ⟨sᵢsⱼ⟩) of an (M, N) batch of states."""
    X = np.asarray(S, dtype=np.float64)
    return X.mean(axis=0), X.T @ X / X.shape[0]


def connected_correlations(S):
    """Cᵢⱼ = ⟨sᵢsⱼ⟩ − ⟨sᵢ⟩⟨sⱼ⟩."""
    mean, second = moments(S)
    return second - np.outer(mean, mean)


def autocorrelation(x):
    """Normalised autocorrelation ρ(t), t = 0..T−1, of x (T,) or averaged over chains x (T, C)."""
    x = np.asarray(x, dtype=float)
    x = x.reshape(x.shape[0], -1)
    T = x.shape[0]
    dx = x - x.mean(axis=0)
    f = np.fft.rfft(dx, n=2 * T, axis=0)
    acov = np.fft.irfft(f * np.conj(f), axis=0)[:T].mean(axis=1) / np.arange(T, 0, -1)
    return acov / acov[0] if acov[0] > 0 else np.where(np.arange(T) == 0, 1.0, 0.0)


def integrated_autocorrelation_time(x, c=5.0):
    """τ_int = ½ + Σ_{t=1}^{W} ρ(t) with the smallest window W ≥ c·τ_int(W) (Sokal).

    τ_int = ½ for uncorrelated samples, in units of the spacing of x.
    """
    rho = autocorrelation(x)
    tau = 0.5 + np.cumsum(rho[1:])
    windows = np.arange(1, rho.size)
    ok = windows >= c * tau
    W = int(np.argmax(ok)) if ok.any() else tau.size - 1
    return float(max(tau[W], 0.5)) if tau.size else 0.5


def mean_and_error(x):
    """Mean of x (T,) or (T, C) independent chains, and its standard error √(σ²·2τ_int / (T·C))."""
    x = np.asarray(x, dtype=float)
    x2 = x.reshape(x.shape[0], -1)
    tau = integrated_autocorrelation_time(x2)
    return float(x2.mean()), float(np.sqrt(x2.var() * 2.0 * tau / x2.size))


def jackknife_over_chains(estimator, x):
    """Estimate and jackknife error of ``estimator`` (a function of the flattened samples) for
    x of shape (T, C, ...) from C independent chains (leave one chain out)."""
    x = np.asarray(x)
    C = x.shape[1]
    full = estimator(x.reshape(-1, *x.shape[2:]))
    leave_one_out = np.array([estimator(np.delete(x, c, axis=1).reshape(-1, *x.shape[2:])) for c in range(C)])
    error = np.sqrt((C - 1) / C * np.sum((leave_one_out - leave_one_out.mean(axis=0)) ** 2, axis=0))
    return full, error
