"""Time series in pandas: date_range, DatetimeIndex slicing, resample (sum, mean, ohlc),
asfreq, shift / diff / pct_change, tz_localize and tz_convert across a DST change,
date offsets and the dt accessor."""

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd


def main(workdir: Path) -> None:
    rng = np.random.default_rng(7)
    idx = pd.date_range("2024-01-01", "2024-06-30 23:00", freq="h")
    load = pd.Series(
        50 + 10 * np.sin(np.arange(len(idx)) * 2 * np.pi / 24) + rng.normal(0, 2, len(idx)),
        index=idx,
        name="load",
    )
    assert len(idx) == 182 * 24 and idx.freqstr == "h"
    march = load.loc["2024-03"]
    assert len(march) == 31 * 24
    daily = load.resample("D").agg(["mean", "min", "max"])
    assert len(daily) == 182 and (daily["min"] <= daily["max"]).all()
    monthly = load.resample("ME").sum()
    assert len(monthly) == 6 and np.isclose(monthly.sum(), load.sum())
    weekly_ohlc = load.resample("W-MON").ohlc()
    assert list(weekly_ohlc.columns) == ["open", "high", "low", "close"]
    sparse = load.iloc[::6]
    filled = sparse.asfreq("h", method="ffill")
    assert filled.index.freqstr == "h" and filled.isna().sum() == 0
    up = sparse.resample("h").interpolate()
    assert up.isna().sum() == 0
    lagged = pd.DataFrame(
        {"load": load, "lag24": load.shift(24), "diff": load.diff(), "pct": load.pct_change()}
    )
    assert lagged["lag24"].isna().sum() == 24 and lagged["diff"].isna().sum() == 1
    ahead = load.shift(1, freq="D")
    assert ahead.index[0] == pd.Timestamp("2024-01-02")
    local = load.tz_localize("Europe/Berlin", ambiguous="NaT", nonexistent="shift_forward")
    utc = local.tz_convert("UTC")
    assert str(utc.index.tz) == "UTC"
    offsets = (local.index[1:] - local.index[:-1]).value_counts()
    assert len(offsets) >= 1
    berlin = pd.Timestamp("2024-03-31 01:30", tz="Europe/Berlin")
    assert (berlin + pd.Timedelta(hours=1)).hour == 3  # DST jump
    ny = pd.Timestamp("2024-07-04 12:00", tz="UTC").tz_convert("America/New_York")
    assert ny.hour == 8
    month_end = pd.Timestamp("2024-02-10") + pd.offsets.MonthEnd()
    assert month_end == pd.Timestamp("2024-02-29")
    bdays = pd.bdate_range("2024-01-01", "2024-01-31")
    assert len(bdays) == 23
    frame = load.to_frame()
    frame["weekday"] = frame.index.day_name()
    frame["hour"] = frame.index.hour
    frame["is_weekend"] = frame.index.day_of_week >= 5
    profile = frame.groupby("hour")["load"].mean()
    assert profile.idxmax() in range(3, 10), profile.idxmax()
    between = frame.between_time("09:00", "10:00")
    assert len(between) == 182 * 2
    print(f"OK time_series hours={len(load)} weeks={len(weekly_ohlc)} peak_hour={profile.idxmax()}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
