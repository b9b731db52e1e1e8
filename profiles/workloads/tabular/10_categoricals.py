"""Categorical data: astype("category"), ordered CategoricalDtype with comparisons,
cat accessor (codes, rename, add/remove categories), cut / qcut, get_dummies,
factorize, value_counts and groupby with observed=."""

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd


def main(workdir: Path) -> None:
    rng = np.random.default_rng(9)
    n = 20_000
    df = pd.DataFrame(
        {
            "size": rng.choice(["S", "M", "L", "XL"], n, p=[0.3, 0.4, 0.2, 0.1]),
            "colour": rng.choice(["red", "green", "blue"], n),
            "price": rng.lognormal(3, 0.5, n),
        }
    )
    obj_bytes = df.memory_usage(deep=True).sum()
    sizes = pd.CategoricalDtype(["S", "M", "L", "XL"], ordered=True)
    df["size"] = df["size"].astype(sizes)
    df["colour"] = df["colour"].astype("category")
    assert df.memory_usage(deep=True).sum() < obj_bytes
    assert (df["size"] >= "L").sum() == df["size"].isin(["L", "XL"]).sum()
    assert df["size"].max() == "XL" and df["size"].cat.ordered
    assert set(df["size"].cat.codes.unique()) == {0, 1, 2, 3}
    renamed = df["colour"].cat.rename_categories(str.upper)
    assert set(renamed.cat.categories) == {"RED", "GREEN", "BLUE"}
    more = df["colour"].cat.add_categories(["black"])
    counts = more.value_counts()
    assert counts["black"] == 0 and len(counts) == 4
    fewer = more.cat.remove_unused_categories()
    assert len(fewer.cat.categories) == 3
    grouped = df.groupby(more, observed=False)["price"].mean()
    assert len(grouped) == 4 and np.isnan(grouped["black"])
    assert len(df.groupby(more, observed=True)["price"].mean()) == 3
    df["band"] = pd.cut(
        df["price"], bins=[0, 10, 20, 40, np.inf], labels=["cheap", "fair", "dear", "lux"]
    )
    df["quartile"] = pd.qcut(df["price"], 4, labels=False)
    assert df["band"].cat.categories.tolist() == ["cheap", "fair", "dear", "lux"]
    assert df["quartile"].value_counts().min() >= n // 4 - 1
    edges = pd.qcut(df["price"], 10, retbins=True)[1]
    assert len(edges) == 11 and np.all(np.diff(edges) > 0)
    dummies = pd.get_dummies(df[["colour", "size"]], prefix_sep="=", dtype=int)
    assert dummies.shape == (n, 7) and (dummies.sum(axis=1) == 2).all()
    codes, uniques = pd.factorize(df["colour"].astype(str), sort=True)
    assert list(uniques) == ["blue", "green", "red"] and codes.max() == 2
    table = pd.crosstab(df["size"], df["band"])
    assert list(table.index) == ["S", "M", "L", "XL"]
    sorted_sizes = df.sort_values("size")["size"]
    assert sorted_sizes.iloc[0] == "S" and sorted_sizes.iloc[-1] == "XL"
    cat = pd.Categorical(["a", "b", "a", None], categories=["a", "b", "c"])
    assert cat.isna().sum() == 1 and list(cat.describe()["counts"]) == [2, 1, 0, 1]
    print(
        f"OK categoricals memory={obj_bytes}->{df.memory_usage(deep=True).sum()} "
        f"dummies={dummies.shape[1]}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
