"""Inverse statistical mechanics on the square lattice: J and h back from sampled configurations.

A few hundred 32×32 periodic configurations sampled at J = 0.3 and
J = 0.42 (h small but non-zero) are fitted back to the true J and h within 3 of the fit's own
standard errors, with both update rules.  The configurations come from independent chains
(one per configuration) after a burn-in well beyond the relaxation time, so they are
independent draws, which the standard errors assume.
"""
import numpy as np
import pytest

import inverse_ising as ii
from inverse_ising.boltzmann import boltzmann_lattice
from inverse_ising.errors import InputError
from inverse_ising.fit import fit, load_fit

L = 32
H_TRUE = 0.015
N_CONFIGS = 300


@pytest.fixture(scope="module")
def configurations():
    data = {}
    for J in (0.3, 0.42):
        # 400 sweeps: the magnetisation relaxes in ≈ 100 (0.42, Metropolis), ≈ 20 at 0.3
        data[J] = ii.sample(ii.LatticeIsing(L, J, H_TRUE), N_CONFIGS, rule="metropolis", backend="numpy",
                            seed=7, n_chains=N_CONFIGS, burn_in=400 if J > 0.4 else 150, thin=1)
    return data


@pytest.mark.slow
@pytest.mark.parametrize("rule", ["metropolis", "glauber"])
@pytest.mark.parametrize("J_true", [0.3, 0.42])
def test_lattice_fit_recovers_J_and_h(configurations, J_true, rule):
    X = configurations[J_true]
    r = fit(X, model="lattice", shape=(L, L), rule=rule, backend="numpy", seed=3, progress=False)
    assert r.converged
    m = r.model
    assert isinstance(m, ii.LatticeIsing) and m.L == L and m.boundary == "periodic"
    se_J, se_h = r.se_J, r.se_h
    assert abs(m.J - J_true) <= 3 * se_J
    assert abs(m.h - H_TRUE) <= 3 * se_h
    # the errors are those of a few hundred configurations, not wildly conservative
    assert se_J < 0.004 and se_h < 0.004
    assert r.h_total == pytest.approx(L * L * m.h)
    assert r.se_h_total == pytest.approx(L * L * se_h)
    # the history follows J and h
    assert r.history["J"][-1] == pytest.approx(m.J) and r.history["h"][-1] == pytest.approx(m.h)
    assert r.meta["rule"] == rule


def test_pseudolikelihood_and_boltzmann_agree_on_one_image():
    """One 32×32 configuration is enough data for both estimators."""
    X = ii.sample(ii.LatticeIsing(L, 0.3, 0.02), 1, backend="numpy", seed=1, n_chains=1, burn_in=200)
    grid = X.reshape(L, L)
    b = fit(grid, model="lattice", backend="numpy", seed=2, progress=False)
    p = fit(grid, model="lattice", method="pseudolikelihood")
    assert b.converged
    assert abs(b.J - p.J) < 2 * max(b.se_J, p.se_J)
    assert abs(b.h - p.h) < 2 * max(b.se_h, p.se_h)
    assert p.stderr["J"] > 0 and "sandwich" in p.stderr["method"]


def test_exact_lattice_mle_matches_boltzmann():
    X = ii.sample(ii.LatticeIsing(4, 0.35, 0.1), 1000, backend="numpy", seed=3, n_chains=1000, burn_in=100)
    e = fit(X, model="lattice", method="exact")
    b = fit(X, model="lattice", backend="numpy", seed=4, progress=False)
    assert e.converged and b.converged
    assert abs(b.J - e.J) < b.se_J and abs(b.h - e.h) < b.se_h
    assert abs(e.J - 0.35) < 4 * b.se_J and abs(e.h - 0.1) < 4 * b.se_h


def test_flattened_rows_and_open_boundaries():
    X = ii.sample(ii.LatticeIsing(8, 0.3, 0.0, boundary="open"), 300, backend="numpy", seed=5,
                  n_chains=300, burn_in=100)
    r = fit(X.reshape(300, 64), model="lattice", shape=(8, 8), boundary="open", backend="numpy", seed=1,
            progress=False)
    assert r.model.boundary == "open" and r.model.L == 8
    assert abs(r.J - 0.3) < 4 * r.se_J and abs(r.h) < 4 * r.se_h
    r2 = fit(X.reshape(300, 64), model="lattice", boundary="open", backend="numpy", seed=1, progress=False)
    assert r2.J == r.J  # L inferred from the 64 columns


def test_lattice_sgd_course_notes_rule():
    X = ii.sample(ii.LatticeIsing(8, 0.3, 0.05), 200, backend="numpy", seed=6, n_chains=200, burn_in=100)
    # stable for α < 2/χ: the susceptibility χ = Var(S)/L² ≈ 7 here, so α = 0.1
    r = boltzmann_lattice(X, optimizer="sgd", learning_rate=0.1, init="zeros", backend="numpy", seed=1,
                          progress=False, max_iter=150)
    assert r["converged"]
    assert np.all(r["history"]["learning_rate"] == 0.1)
    assert abs(r["model"].J - 0.3) < 4 * r["stderr"]["J"]


def test_lattice_save_and_load(tmp_path):
    X = ii.sample(ii.LatticeIsing(8, 0.3, 0.05), 100, backend="numpy", seed=6, n_chains=100, burn_in=100)
    r = fit(X, model="lattice", backend="numpy", seed=1, progress=False)
    path = tmp_path / "lattice_fit.npz"
    r.save(path)
    back = load_fit(path)
    assert back.model.kind == "lattice" and back.model.L == 8
    assert back.J == r.J and back.h == r.h
    assert back.se_J == pytest.approx(r.se_J) and back.se_h == pytest.approx(r.se_h)
    assert back.meta["h_total"] == pytest.approx(64 * r.h)
    assert "statistical" in " ".join(back.meta)  # the error budget is saved


def test_lattice_bad_input():
    with pytest.raises(InputError, match="even L"):
        fit(np.ones((10, 5, 5)) * np.where(np.arange(25) % 2, 1, -1).reshape(5, 5), model="lattice", backend="numpy")
    with pytest.raises(InputError, match="cannot read"):
        fit(np.ones((10, 7)), model="lattice")
    with pytest.raises(InputError, match="square"):
        fit(np.ones((10, 12)), model="lattice", shape=(3, 4))
    with pytest.raises(InputError, match="every site of every configuration"):
        fit(np.ones((3, 4, 4)), model="lattice", backend="numpy")
    with pytest.raises(InputError, match="not available for the lattice"):
        fit(np.where(np.arange(64) % 3, 1, -1).reshape(4, 16), model="lattice", method="mean_field")
    with pytest.raises(InputError, match="l1 applies to the pairwise model"):
        fit(np.where(np.arange(64) % 3, 1, -1).reshape(4, 16), model="lattice", l1=0.1)
    with pytest.raises(InputError, match="boundary"):
        fit(np.where(np.arange(64) % 3, 1, -1).reshape(4, 16), model="lattice", boundary="twisted")
