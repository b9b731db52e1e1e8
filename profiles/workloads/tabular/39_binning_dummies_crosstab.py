"""Everyday reshaping for reports: cut/qcut bins, crosstab with margins and normalize,
get_dummies and from_dummies, melt, explode, value_counts(normalize, bins), nlargest,
rank, clip, and a styled-free Markdown-ish text table via to_string."""

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd


def main(workdir: Path) -> None:
    rng = np.random.default_rng(39)
    df = pd.DataFrame(
        {
            "age": rng.integers(18, 90, 400),
            "income": rng.lognormal(10, 0.5, 400).round(0),
            "region": rng.choice(["north", "south", "east", "west"], 400),
            "tags": [
                list(rng.choice(["a", "b", "c"], rng.integers(1, 3), replace=False))
                for _ in range(400)
            ],
        }
    )
    df["age_band"] = pd.cut(
        df["age"], bins=[17, 30, 50, 70, 90], labels=["18-30", "31-50", "51-70", "71-90"]
    )
    df["income_q"] = pd.qcut(df["income"], 4, labels=False)
    assert df["income_q"].value_counts().max() - df["income_q"].value_counts().min() <= 1
    table = pd.crosstab(df["region"], df["age_band"], margins=True)
    assert table.loc["All", "All"] == 400
    shares = pd.crosstab(df["region"], df["age_band"], normalize="index")
    assert np.allclose(shares.sum(axis=1), 1.0)
    dummies = pd.get_dummies(df["region"], prefix="r", dtype=int)
    assert dummies.sum(axis=1).eq(1).all()
    assert pd.from_dummies(dummies, sep="_")["r"].equals(df["region"])
    long = df[["region", "age", "income"]].melt(id_vars="region", var_name="measure")
    assert len(long) == 800 and set(long["measure"]) == {"age", "income"}
    tags = df[["region", "tags"]].explode("tags")
    assert len(tags) == df["tags"].map(len).sum()
    shares = df["region"].value_counts(normalize=True)
    assert abs(shares.sum() - 1) < 1e-9
    assert df["age"].value_counts(bins=4).sum() == 400
    top = df.nlargest(5, "income")
    assert top["income"].is_monotonic_decreasing
    df["rank"] = df.groupby("region")["income"].rank(ascending=False, method="dense")
    assert df.groupby("region")["rank"].min().eq(1).all()
    assert df["income"].clip(upper=50_000).max() <= 50_000
    text = table.to_string()
    assert "All" in text and "north" in text
    (workdir / "table.txt").write_text(text)
    print(f"OK 39_binning_dummies_crosstab rows={len(df)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
