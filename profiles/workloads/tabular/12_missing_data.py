"""Missing data in pandas: isna/notna counts, dropna with thresh and subset, fillna with
values and per-column dicts, ffill/bfill with limits, interpolate (linear, time),
nullable Int64/boolean/Float64 dtypes with pd.NA, convert_dtypes and where/mask."""

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd


def main(workdir: Path) -> None:
    rng = np.random.default_rng(10)
    n = 1000
    df = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": rng.integers(0, 5, n).astype(float),
            "label": rng.choice(["x", "y", "z"], n),
        }
    )
    for col, frac in [("a", 0.1), ("b", 0.3), ("c", 0.05)]:
        df.loc[rng.random(n) < frac, col] = np.nan
    df.loc[rng.random(n) < 0.02, "label"] = None
    missing = df.isna().sum()
    assert missing["b"] > missing["a"] > missing["c"] > 0, missing
    share = df.isna().mean()
    assert 0.2 < share["b"] < 0.4
    assert len(df.dropna()) < len(df.dropna(subset=["a"])) < n
    assert len(df.dropna(thresh=4)) == len(df.dropna())
    filled = df.fillna({"a": df["a"].mean(), "b": 0.0, "c": df["c"].median(), "label": "unk"})
    assert filled.isna().sum().sum() == 0 and (filled["label"] == "unk").sum() == missing["label"]
    group_fill = df.groupby("label")["a"].transform(lambda s: s.fillna(s.mean()))
    assert group_fill[df["label"].notna()].isna().sum() == 0
    s = pd.Series([1.0, np.nan, np.nan, np.nan, 5.0, np.nan])
    assert s.ffill(limit=1).isna().sum() == 2 and s.bfill().isna().sum() == 1
    assert s.interpolate().tolist()[:5] == [1.0, 2.0, 3.0, 4.0, 5.0]
    idx = pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-04", "2024-01-08"])
    ts = pd.Series([0.0, np.nan, np.nan, 7.0], index=idx)
    assert ts.interpolate(method="time").tolist() == [0.0, 1.0, 3.0, 7.0]
    ints = pd.Series([1, None, 3], dtype="Int64")
    assert ints.dtype == "Int64" and ints.sum() == 4 and ints.isna().sum() == 1
    assert ints[1] is pd.NA
    flags = pd.Series([True, None, False], dtype="boolean")
    assert flags.any() and (flags & True).isna().sum() == 1
    assert (pd.NA | True) is True and (pd.NA & False) is False
    conv = pd.DataFrame(
        {"i": [1, 2, None], "s": ["a", None, "c"], "f": [0.5, None, 1.5]}
    ).convert_dtypes()
    assert str(conv["i"].dtype) == "Int64" and str(conv["f"].dtype) == "Float64"
    assert conv["s"].dtype.name.startswith("str"), conv["s"].dtype
    clipped = df["a"].where(df["a"].isna() | (df["a"] > -2), -2).mask(df["a"] > 2, 2)
    assert clipped.min() >= -2 and clipped.max() <= 2 and clipped.isna().sum() == missing["a"]
    assert df["a"].count() == n - missing["a"] and np.isclose(
        df["a"].mean(), df["a"].dropna().mean()
    )
    print(f"OK missing_data missing={missing.to_dict()} complete_rows={len(df.dropna())}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
