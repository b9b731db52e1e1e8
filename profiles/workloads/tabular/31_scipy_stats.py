"""scipy.stats: continuous and discrete distributions (pdf, cdf, ppf, rvs, fit), describe,
zscore, t-tests (one-sample, independent, paired), pearsonr / spearmanr / kendalltau,
chi2_contingency, mannwhitneyu, kstest, shapiro, f_oneway, linregress, gaussian_kde,
bootstrap confidence intervals and a pandas-grouped comparison."""

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats


def main(workdir: Path) -> None:
    rng = np.random.default_rng(24)
    norm = stats.norm(loc=10, scale=2)
    assert np.isclose(norm.cdf(10), 0.5) and np.isclose(
        norm.ppf(0.975), 10 + 2 * 1.959964, atol=1e-5
    )
    assert np.isclose(stats.norm.pdf(0), 1 / np.sqrt(2 * np.pi))
    assert np.isclose(stats.binom.pmf(3, 10, 0.5), 120 / 1024)
    assert np.isclose(stats.poisson.cdf(2, 3.0), np.exp(-3) * (1 + 3 + 4.5))
    assert np.isclose(stats.t.ppf(0.975, df=1000), 1.962, atol=1e-3)
    assert np.isclose(stats.chi2.sf(3.841, df=1), 0.05, atol=1e-3)
    sample = stats.gamma.rvs(a=3.0, scale=2.0, size=5000, random_state=rng)
    a, loc, scale = stats.gamma.fit(sample, floc=0)
    assert abs(a - 3) < 0.2 and abs(scale - 2) < 0.15, (a, scale)
    mu, sigma = stats.norm.fit(rng.normal(5, 3, 5000))
    assert abs(mu - 5) < 0.15 and abs(sigma - 3) < 0.1
    d = stats.describe(sample)
    assert d.nobs == 5000 and abs(d.mean - 6) < 0.2 and d.skewness > 0
    assert np.allclose(stats.zscore(sample).std(), 1)
    x = rng.normal(0, 1, 200)
    y = rng.normal(0.5, 1, 200)
    assert stats.ttest_1samp(x, 0).pvalue > 0.01
    ind = stats.ttest_ind(x, y, equal_var=False)
    assert ind.pvalue < 1e-3 and ind.statistic < 0
    ci = ind.confidence_interval(0.95)
    assert ci.low < -0.5 + 0.3 and ci.high > -0.5 - 0.3
    before = rng.normal(120, 10, 50)
    after = before - 3 + rng.normal(0, 2, 50)
    assert stats.ttest_rel(before, after).pvalue < 1e-6
    z = 2 * x + rng.normal(0, 0.5, 200)
    r, p = stats.pearsonr(x, z)
    assert r > 0.9 and p < 1e-10
    assert stats.spearmanr(x, z).statistic > 0.9 and stats.kendalltau(x, z).statistic > 0.7
    table = np.array([[30, 10], [15, 45]])
    chi2, p_chi, dof, expected = stats.chi2_contingency(table)
    assert dof == 1 and p_chi < 1e-5 and expected.sum() == table.sum()
    assert stats.fisher_exact(table).pvalue < 1e-5
    assert stats.mannwhitneyu(x, y).pvalue < 1e-3
    assert stats.kstest(x, "norm").pvalue > 0.01 and stats.kstest(sample, "norm").pvalue < 1e-10
    assert stats.shapiro(x).pvalue > 0.01
    groups = [rng.normal(m, 1, 40) for m in (0, 0.2, 1.0)]
    assert stats.f_oneway(*groups).pvalue < 1e-3 and stats.kruskal(*groups).pvalue < 1e-3
    lr = stats.linregress(x, z)
    assert abs(lr.slope - 2) < 0.15 and lr.rvalue**2 > 0.9
    kde = stats.gaussian_kde(x)
    grid = np.linspace(-4, 4, 401)
    assert abs(np.trapezoid(kde(grid), grid) - 1) < 0.01
    boot = stats.bootstrap((x,), np.mean, n_resamples=999, random_state=0, method="percentile")
    assert boot.confidence_interval.low < x.mean() < boot.confidence_interval.high
    df = pd.DataFrame(
        {
            "arm": np.repeat(["control", "treat"], 300),
            "value": np.concatenate([rng.normal(10, 2, 300), rng.normal(10.6, 2, 300)]),
        }
    )
    arms = {k: g["value"].to_numpy() for k, g in df.groupby("arm")}
    test = stats.ttest_ind(arms["treat"], arms["control"])
    assert test.pvalue < 0.01, test
    print(f"OK scipy_stats gamma_a={a:.2f} r={r:.3f} chi2={chi2:.1f} ab_p={test.pvalue:.2e}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
