"""Window functions: rolling (fixed count, time-based "7D", centred, min_periods,
win_type through scipy), rolling apply, rolling corr/cov, ewm (span, halflife),
expanding, and groupby().rolling."""

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd


def main(workdir: Path) -> None:
    rng = np.random.default_rng(11)
    idx = pd.date_range("2024-01-01", periods=365, freq="D")
    x = pd.Series(rng.normal(0, 1, 365).cumsum(), index=idx, name="x")
    y = x * 0.8 + pd.Series(rng.normal(0, 0.5, 365), index=idx)
    r7 = x.rolling(7).mean()
    assert r7.isna().sum() == 6 and np.isclose(r7.iloc[6], x.iloc[:7].mean())
    t7 = x.rolling("7D").mean()
    assert t7.isna().sum() == 0 and np.isclose(t7.iloc[10], r7.iloc[10])
    centred = x.rolling(5, center=True, min_periods=1).median()
    assert centred.isna().sum() == 0
    gauss = x.rolling(9, win_type="gaussian", center=True).mean(std=2.0)
    tri = x.rolling(5, win_type="triang").sum()
    assert gauss.notna().sum() == 365 - 8 and tri.notna().sum() == 361
    spread = x.rolling(30).apply(lambda w: w.max() - w.min(), raw=True)
    assert (spread.dropna() >= 0).all()
    stats = x.rolling(14).agg(["mean", "std", "min", "max"])
    assert stats.shape == (365, 4)
    corr = x.rolling(60).corr(y)
    assert corr.dropna().mean() > 0.5, corr.mean()
    cov = x.rolling(60).cov(y)
    assert cov.dropna().shape[0] == 306
    e = x.ewm(span=10, adjust=False).mean()
    assert np.isclose(e.iloc[1], x.iloc[0] + (2 / 11) * (x.iloc[1] - x.iloc[0]))
    hl = x.ewm(halflife="5 days", times=idx).mean()
    assert hl.notna().all()
    ev = x.ewm(alpha=0.3).var()
    assert ev.iloc[1:].notna().all()
    running_max = x.expanding().max()
    assert running_max.is_monotonic_increasing and np.isclose(running_max.iloc[-1], x.max())
    exp_mean = x.expanding(min_periods=10).mean()
    assert exp_mean.isna().sum() == 9
    frame = pd.DataFrame(
        {"shop": np.repeat(["a", "b", "c"], 120), "sales": rng.poisson(20, 360).astype(float)}
    )
    per_shop = frame.groupby("shop")["sales"].rolling(10).mean()
    assert per_shop.index.nlevels == 2 and per_shop.isna().sum() == 27
    frame["roll"] = per_shop.reset_index(level=0, drop=True)
    frame["cummax"] = frame.groupby("shop")["sales"].cummax()
    assert frame["roll"].isna().sum() == 27
    rank = x.rolling(20).rank()
    assert rank.dropna().between(1, 20).all()
    print(f"OK window_functions corr={corr.mean():.3f} ewm_last={e.iloc[-1]:.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
