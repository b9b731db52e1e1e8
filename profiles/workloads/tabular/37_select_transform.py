"""Everyday DataFrame manipulation: loc/iloc/at, boolean masks, query and eval, assign
and method chaining, sort_values on several keys, nlargest, drop_duplicates/duplicated,
apply (rows and columns), map/replace, pipe, clip, rank, sample, astype, rename,
set_index/reset_index, value_counts(normalize), isin/between, corr and np.where/select."""

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd


def main(workdir: Path) -> None:
    rng = np.random.default_rng(30)
    n = 5000
    df = pd.DataFrame(
        {
            "name": [f"item{i:04d}" for i in rng.integers(0, 4000, n)],
            "kind": rng.choice(["tool", "toy", "book", "food"], n),
            "price": rng.uniform(1, 200, n).round(2),
            "qty": rng.integers(0, 50, n),
            "rating": rng.integers(1, 6, n),
        }
    )
    assert df.loc[0, "price"] == df.iloc[0, 2] == df.at[0, "price"] == df.iat[0, 2]
    cheap = df[(df["price"] < 20) & (df["kind"] != "food")]
    q = df.query("price < 20 and kind != 'food'")
    pd.testing.assert_frame_equal(cheap, q)
    limit = 100
    assert len(df.query("price > @limit")) == (df["price"] > limit).sum()
    df["value"] = df.eval("price * qty")
    out = (
        df.assign(tax=lambda d: d["value"] * 0.2, total=lambda d: d["value"] + d["tax"])
        .loc[lambda d: d["qty"] > 0]
        .sort_values(["kind", "total"], ascending=[True, False])
    )
    assert out.groupby("kind")["total"].apply(lambda s: s.is_monotonic_decreasing).all()
    top = df.nlargest(5, "value")
    assert top["value"].iloc[0] == df["value"].max() and len(df.nsmallest(3, ["price", "qty"])) == 3
    dup_mask = df.duplicated(subset="name", keep="first")
    unique = df.drop_duplicates(subset="name")
    assert len(unique) == df["name"].nunique() == n - dup_mask.sum()
    df["band"] = df.apply(
        lambda row: "high" if row["price"] * row["rating"] > 500 else "low", axis=1
    )
    ranges = df[["price", "qty"]].apply(lambda col: col.max() - col.min())
    assert set(df["band"]) == {"high", "low"} and ranges["qty"] <= 49
    labels = {"tool": "Tools", "toy": "Toys", "book": "Books", "food": "Food"}
    df["kind_label"] = df["kind"].map(labels)
    assert df["kind_label"].isna().sum() == 0
    df["stars"] = df["rating"].replace({1: "bad", 5: "great"})
    assert (df["stars"] == "great").sum() == (df["rating"] == 5).sum()
    per_kind = df.pipe(lambda d: d.groupby("kind")["value"].sum()).pipe(lambda s: s / s.sum())
    assert np.isclose(per_kind.sum(), 1)
    clipped = df["price"].clip(10, 150)
    assert clipped.min() == 10 and clipped.max() == 150
    df["price_rank"] = df["price"].rank(pct=True)
    assert df["price_rank"].between(0, 1).all()
    sample = df.sample(n=100, random_state=0)
    frac = df.sample(frac=0.1, random_state=1)
    assert len(sample) == 100 and len(frac) == 500
    typed = df.astype({"qty": "int16", "rating": "int8", "kind": "category"})
    assert (
        typed["qty"].dtype == np.int16
        and typed.memory_usage(deep=True).sum() < df.memory_usage(deep=True).sum()
    )
    renamed = df.rename(columns={"qty": "quantity"}).rename(columns=str.upper)
    assert "QUANTITY" in renamed.columns
    indexed = unique.set_index("name").sort_index()
    assert indexed.index.is_unique and indexed.index.is_monotonic_increasing
    assert list(indexed.reset_index().columns)[0] == "name"
    shares = df["kind"].value_counts(normalize=True)
    assert np.isclose(shares.sum(), 1) and len(shares) == 4
    assert df["kind"].isin(["tool", "toy"]).sum() + df["kind"].isin(["book", "food"]).sum() == n
    assert df["price"].between(50, 60, inclusive="left").sum() > 0
    df["size"] = np.select([df["qty"] < 10, df["qty"] < 30], ["small", "medium"], default="large")
    df["flag"] = np.where(df["rating"] >= 4, "good", "meh")
    assert set(df["size"]) == {"small", "medium", "large"}
    corr = df[["price", "qty", "value", "rating"]].corr()
    assert corr.loc["value", "price"] > 0.4 and np.allclose(np.diag(corr), 1)
    dropped = df.drop(columns=["stars", "flag"]).drop(index=df.index[:10])
    assert len(dropped) == n - 10 and "stars" not in dropped
    print(f"OK select_transform rows={n} unique={len(unique)} top_value={top['value'].iloc[0]:.2f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
