"""Exact results for the 2D square-lattice Ising model at zero field (SPEC §4).

Convention (as everywhere in the package): β = 1 and K = J, the energy of a configuration is
E = −J Σ_⟨ij⟩ sᵢsⱼ with every nearest-neighbour bond counted once, and energies per spin are
quoted *in units of J*, u = ⟨E⟩/(N J) = −⟨Σ_⟨ij⟩ sᵢsⱼ⟩/N ∈ [−2, 2].  The specific heat per spin
is c = K² ∂²ln Z/∂K² / N = Var(K Σ_⟨ij⟩ sᵢsⱼ)/N, the variance of the log weight per spin, which is
what :func:`inverse_ising.exact.exact_solve` reports as ``specific_heat`` for a ``LatticeIsing``.

Infinite lattice (Onsager 1944, Yang 1952)
------------------------------------------
    u(K)  = −coth 2K · [1 + (2/π)(2 tanh² 2K − 1) 𝐊(k)],   k = 2 sinh 2K / cosh² 2K,
    M₀(K) = (1 − sinh⁻⁴ 2K)^{1/8} for K > K_c, else 0,
with 𝐊 the complete elliptic integral of the first kind of *modulus* k (``scipy.special.ellipk``
takes the parameter m = k²).  At K_c = ½ ln(1 + √2) the bracket is 0·∞ and u(K_c) = −√2.

Finite L×L torus (Kaufman 1949; Ferdinand & Fisher 1969)
--------------------------------------------------------
With periodic boundaries in both directions (2L² bonds; at L = 2 each neighbour pair is joined
twice, exactly as ``LatticeIsing(2).to_pairwise()`` builds it):
    Z = ½ (2 sinh 2K)^{L²/2} (Z₁ + Z₂ + Z₃ + Z₄),
    Z₁ = Π_{r=0}^{L−1} 2 cosh(L γ_{2r+1}/2),   Z₂ = Π_{r=0}^{L−1} 2 sinh(L γ_{2r+1}/2),
    Z₃ = Π_{r=0}^{L−1} 2 cosh(L γ_{2r}/2),     Z₄ = Π_{r=0}^{L−1} 2 sinh(L γ_{2r}/2),
    cosh γ_k = cosh 2K coth 2K − cos(πk/L)  (γ_k > 0 for k ≥ 1),
    γ₀ = 2K + ln tanh K,
γ₀ is negative below K_c and positive above (it vanishes at K_c, where Z₄ = 0), so Z₄ changes
sign at K_c.  Everything is evaluated in logarithms (the products overflow for L ≳ 30), and the
first and second K-derivatives of every factor are taken analytically, so the energy and specific
heat carry no finite-difference error.  The formula was checked against brute-force enumeration
of ``LatticeIsing`` for L = 2, 3, 4 (odd L included) and against the table of
REFERENCE_VALUES.md up to L = 64.  For K < 0 (antiferromagnet) an even-L torus is bipartite and
Z(−K) = Z(K) is used; odd-L antiferromagnets are frustrated and not covered.
"""
import math

import numpy as np
from scipy.special import ellipkm1

from .errors import InputError
from .validation import as_positive_int, as_scalar

#: Critical coupling of the square lattice, K_c = ½ ln(1 + √2).
K_C = 0.5 * math.log1p(math.sqrt(2.0))


def _as_couplings(K, name="K"):
    arr = np.asarray(K, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be finite, got {K!r}")
    return arr


def onsager_energy(K):
    """Onsager's energy per spin (in units of J) of the infinite square lattice at h = 0.

    u(K) = −coth 2K · [1 + (2/π)(2 tanh² 2K − 1) 𝐊(k)],  k = 2 sinh 2K / cosh² 2K,
    𝐊(k) = ``ellipk(k**2)``, evaluated as ``ellipkm1(1 − k²)`` with 1 − k² = (1 − sinh² 2K)²/cosh⁴ 2K.  u(K_c) = −√2 exactly, u(0) = 0 and u(−K) = −u(K).
    Accepts a scalar or an array of couplings K = βJ.
    """
    K = _as_couplings(K)
    t = np.minimum(2.0 * np.abs(K), 40.0)  # beyond 2K = 40, u = −2 to double precision
    # With x = sinh² 2K:  2 tanh² 2K − 1 = (x − 1)/cosh² 2K and  1 − k² = (1 − x)²/cosh⁴ 2K
    # exactly, so 𝐊 is evaluated through ellipkm1(1 − k²) without cancellation near K_c.
    x = np.sinh(t) ** 2
    c2 = np.cosh(t) ** 2
    kprime2 = ((1.0 - x) / c2) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = (2.0 / np.pi) * ((x - 1.0) / c2) * ellipkm1(kprime2)
        tail = np.where(kprime2 == 0.0, 0.0, tail)  # (x − 1)·𝐊 → 0 as K → K_c
        u = -(1.0 + tail) / np.tanh(t)
    u = np.where(np.abs(K) == K_C, -math.sqrt(2.0), u)
    u = np.where(K == 0.0, 0.0, u)
    u = np.sign(K) * u
    return float(u) if u.ndim == 0 else u


def onsager_magnetisation(K):
    """Spontaneous magnetisation per spin of the infinite square lattice (Onsager–Yang).

    M₀(K) = (1 − sinh⁻⁴ 2K)^{1/8} for K > K_c and 0 for K ≤ K_c.  For an antiferromagnet
    (K < 0) the uniform magnetisation is 0 (the staggered one is M₀(|K|)).
    """
    K = _as_couplings(K)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inner = 1.0 - np.sinh(2.0 * K) ** -4.0
        m = np.where(K > K_C, np.power(np.clip(inner, 0.0, None), 0.125), 0.0)
    return float(m) if m.ndim == 0 else m


# ---------------------------------------------------------------------------------------------
# Kaufman's finite torus
# ---------------------------------------------------------------------------------------------

def _log2cosh(x):
    """ln(2 cosh x) = |x| + ln(1 + e^{−2|x|})."""
    a = np.abs(x)
    return a + np.log1p(np.exp(-2.0 * a))


def _log_abs_2sinh(x):
    """ln|2 sinh x| = |x| + ln(1 − e^{−2|x|})."""
    a = np.abs(x)
    with np.errstate(divide="ignore"):
        return a + np.log(-np.expm1(-2.0 * a))


def _gammas(L, K):
    """γ_k, dγ_k/dK and d²γ_k/dK² for k = 0 … 2L−1 (K > 0).

    k ≥ 1: cosh γ_k = c(K) − cos(πk/L) with c = cosh 2K coth 2K = sinh 2K + 1/sinh 2K, so
           γ' = c'/sinh γ and γ'' = (c'' − cosh γ · γ'²)/sinh γ.
    k = 0: γ₀ = 2K + ln tanh K, γ₀' = 2 + 2/sinh 2K, γ₀'' = −4 cosh 2K / sinh² 2K.
    """
    s2, c2 = math.sinh(2 * K), math.cosh(2 * K)
    c = s2 + 1.0 / s2
    dc = 2.0 * c2 * (1.0 - 1.0 / s2**2)
    d2c = 4.0 * s2 - 4.0 / s2 + 8.0 * c2**2 / s2**3
    k = np.arange(2 * L)
    ch = c - np.cos(np.pi * k / L)
    ch[0] = 2.0  # placeholder, replaced below
    g = np.arccosh(ch)
    sh = np.sqrt((ch - 1.0) * (ch + 1.0))
    dg = dc / sh
    d2g = (d2c - ch * dg**2) / sh
    g[0] = 2.0 * K + math.log(math.tanh(K))
    dg[0] = 2.0 + 2.0 / s2
    d2g[0] = -4.0 * c2 / s2**2
    return g, dg, d2g


def _product_terms(x, dx, d2x, kind):
    """ln|P|, sign P, P'/P and P''/P for P = Π_r f(x_r), f = 2cosh (kind "c") or 2sinh ("s").

    With t = (ln f)'(x) = tanh x or coth x and (ln f)'' = 1 − t²:
    (ln P)' = Σ t·x',  (ln P)'' = Σ [t·x'' + (1 − t²)·x'²],  P''/P = (ln P)'' + ((ln P)')².
    Only used where every x_r ≠ 0 for kind "s".
    """
    if kind == "c":
        logp, sign, t = _log2cosh(x).sum(), 1.0, np.tanh(x)
    else:
        logp, sign, t = _log_abs_2sinh(x).sum(), float(np.prod(np.sign(x))), 1.0 / np.tanh(x)
    d1 = float(np.sum(t * dx))
    d2 = float(np.sum(t * d2x + (1.0 - t * t) * dx * dx))
    return logp, sign, d1, d2 + d1 * d1


def _kaufman_parts(L, K):
    """ln Z, ∂ln Z/∂K and ∂²ln Z/∂K² of the L×L torus (K > 0), all in logarithms."""
    N = L * L
    g, dg, d2g = _gammas(L, K)
    half = 0.5 * L
    x, dx, d2x = half * g, half * dg, half * d2g
    odd, even = slice(1, None, 2), slice(0, None, 2)
    # Each term is stored as (log scale, value/scale, first derivative/scale, second/scale).
    terms = []
    for sl, kind in ((odd, "c"), (odd, "s"), (even, "c")):
        logp, sign, d1, d2 = _product_terms(x[sl], dx[sl], d2x[sl], kind)
        terms.append((logp, sign, sign * d1, sign * d2))
    # Z₄ = 2 sinh(x₀)·R with R = Π_{r≥1} 2 sinh(x_{2r}) > 0; x₀ may be 0 (at K_c), so the factor
    # 2 sinh x₀ and its derivatives are written out, scaled by e^{|x₀|} to avoid overflow.
    logr, _, r1, r2 = _product_terms(x[2::2], dx[2::2], d2x[2::2], "s")
    x0, dx0, d2x0 = x[0], dx[0], d2x[0]
    a0 = abs(x0)
    sh = math.copysign(-math.expm1(-2.0 * a0), x0)  # 2 sinh x₀ · e^{−|x₀|}
    chs = 1.0 + math.exp(-2.0 * a0)  # 2 cosh x₀ · e^{−|x₀|}
    v0 = sh
    v1 = chs * dx0 + sh * r1
    v2 = sh * dx0**2 + chs * d2x0 + 2.0 * chs * dx0 * r1 + sh * r2
    terms.append((logr + a0, v0, v1, v2))

    top = max(t[0] for t in terms)
    s0 = sum(math.exp(t[0] - top) * t[1] for t in terms)
    s1 = sum(math.exp(t[0] - top) * t[2] for t in terms)
    s2 = sum(math.exp(t[0] - top) * t[3] for t in terms)
    log_s = top + math.log(s0)
    d_log_s = s1 / s0
    d2_log_s = s2 / s0 - d_log_s**2
    sinh2k = math.sinh(2.0 * K)
    log_z = -math.log(2.0) + 0.5 * N * math.log(2.0 * sinh2k) + log_s
    d_log_z = N / math.tanh(2.0 * K) + d_log_s
    d2_log_z = -2.0 * N / sinh2k**2 + d2_log_s
    return log_z, d_log_z, d2_log_z


def _kaufman(L, K):
    L = as_positive_int(L, "L", minimum=2)
    K = as_scalar(K, "K")
    N = L * L
    if K == 0.0:
        # K = 0: independent spins; the 2N bond products are uncorrelated (at L = 2 they come in equal pairs)
        return L, K, N * math.log(2.0), 0.0, float(4 * N if L == 2 else 2 * N)
    if K < 0.0:
        if L % 2:
            raise InputError(
                f"Kaufman's formula is used here only for K >= 0 when L is odd (L = {L}, K = {K}): "
                "an odd torus with antiferromagnetic K is frustrated; use exact_solve for small L"
            )
        _, _, log_z, d1, d2 = _kaufman(L, -K)
        return L, K, log_z, -d1, d2  # Z(−K) = Z(K) on a bipartite torus
    if K > 20.0:
        # Ground states only: the lightest excitation (one flipped spin) costs e^{−8K} < 1e−69
        # relative to them, below double precision for any L.
        return L, K, 2.0 * N * K + math.log(2.0), 2.0 * N, 0.0
    log_z, d1, d2 = _kaufman_parts(L, K)
    return L, K, log_z, d1, d2


def kaufman_log_z(L, K):
    """ln Z of the L×L periodic Ising model at h = 0 and coupling K = βJ (Kaufman 1949).

    ln Z = −ln 2 + (L²/2) ln(2 sinh 2K) + ln(Z₁ + Z₂ + Z₃ + Z₄), see the module docstring.
    """
    return _kaufman(L, K)[2]


def kaufman_energy(L, K):
    """Energy per spin in units of J of the L×L torus: u = −(1/N) ∂ln Z/∂K = −⟨Σ_⟨ij⟩ sᵢsⱼ⟩/N."""
    L, K, _, d1, _ = _kaufman(L, K)
    return -d1 / (L * L)


def kaufman_specific_heat(L, K):
    """Specific heat per spin of the L×L torus: c = K² ∂²ln Z/∂K² / N = K² Var(Σ_⟨ij⟩ sᵢsⱼ)/N."""
    L, K, _, _, d2 = _kaufman(L, K)
    return max(0.0, K * K * d2 / (L * L))  # ≥ 0; rounding can leave −1e−15 at K ≳ 10
