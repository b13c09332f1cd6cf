"""Default Boltzmann learning on near-critical data, judged against exact results.

The small members of the near-critical family (:func:`inverse_ising.synthetic.near_critical_model`,
N = 14) are taken through the specific-heat peak (β = 0.9, 1.0, 1.2; at β = 1 the high-activity
side holds about half of the mass).  For each, the default fit must converge, come as close to
the truth as the exact maximum-likelihood estimate does (the long-run limit of any learner, by
enumeration), and reproduce the data's P(K) — the distribution of the number of active units —
within the data's multinomial noise, with P(K) of the fitted model computed exactly.
"""
import numpy as np
import pytest
from scipy.stats import chi2

import inverse_ising as ii
from inverse_ising import synthetic
from inverse_ising.exact import exact_mle, exact_solve

N, M = 14, 20000


def rmse_J(a, b):
    iu = np.triu_indices(N, 1)
    return float(np.sqrt(np.mean((a[iu] - b[iu]) ** 2)))


def pk_chi2(model, X):
    """χ² of the data's counts of K against the model's exact P(K), over K with ≥ 5 expected
    counts (the rest pooled), and its number of degrees of freedom."""
    p = exact_solve(model).magnetisation_pmf
    counts = np.bincount((X == 1).sum(axis=1), minlength=N + 1).astype(float)
    expected = M * p
    keep = expected >= 5
    obs, exp = counts[keep], expected[keep]
    if not keep.all():
        obs, exp = np.append(obs, counts[~keep].sum()), np.append(exp, expected[~keep].sum())
    return float(np.sum((obs - exp) ** 2 / exp)), obs.size - 1


@pytest.mark.slow
@pytest.mark.parametrize("beta", [0.9, 1.0, 1.2])
def test_default_fit_through_the_specific_heat_peak(beta):
    truth = synthetic.near_critical_model(N, beta, seed=0)
    X = synthetic.near_critical_data(M, truth, seed=1).spins
    fit = ii.fit(X, seed=2, progress=False)  # every option at its default
    assert fit.converged
    mle = exact_mle(X, l2=1.0 / M)  # the penalised optimum the learner aims at, exactly
    assert rmse_J(fit.J, truth.J) <= 1.1 * rmse_J(mle.J, truth.J)
    stat, dof = pk_chi2(fit.model, X)
    assert stat <= chi2.ppf(0.999, dof), (stat, dof)
