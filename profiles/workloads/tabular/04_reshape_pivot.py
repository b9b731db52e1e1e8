"""Reshaping with pandas: pivot, pivot_table with margins and several aggfuncs, melt,
crosstab with normalisation, wide_to_long and explode."""

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd


def main(workdir: Path) -> None:
    rng = np.random.default_rng(3)
    n = 3000
    sales = pd.DataFrame(
        {
            "region": rng.choice(["north", "south", "west"], n),
            "product": rng.choice(["apple", "pear", "plum", "fig"], n),
            "quarter": rng.choice(["Q1", "Q2", "Q3", "Q4"], n),
            "units": rng.integers(1, 20, n),
            "price": rng.uniform(0.5, 3.0, n).round(2),
        }
    )
    sales["revenue"] = sales["units"] * sales["price"]
    table = sales.pivot_table(
        index="region",
        columns="quarter",
        values="revenue",
        aggfunc="sum",
        margins=True,
        margins_name="all",
    )
    assert table.shape == (4, 5) and np.isclose(table.loc["all", "all"], sales["revenue"].sum())
    multi = sales.pivot_table(
        index=["region", "product"],
        values=["units", "revenue"],
        aggfunc={"units": "sum", "revenue": ["mean", "max"]},
    )
    assert multi.shape[0] == 12 and multi.columns.nlevels == 2, multi.columns
    summary = sales.groupby(["region", "quarter"], as_index=False)["units"].sum()
    wide = summary.pivot(index="region", columns="quarter", values="units")
    assert wide.shape == (3, 4) and wide.to_numpy().sum() == sales["units"].sum()
    long = wide.reset_index().melt(id_vars="region", var_name="quarter", value_name="units")
    assert len(long) == 12 and long["units"].sum() == sales["units"].sum()
    ct = pd.crosstab(sales["region"], sales["product"], normalize="index")
    assert np.allclose(ct.sum(axis=1), 1.0)
    counts = pd.crosstab(sales["region"], sales["product"], margins=True)
    assert counts.loc["All", "All"] == n
    people = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "height_2020": [1.5, 1.6, 1.7],
            "height_2021": [1.55, 1.62, 1.71],
            "weight_2020": [50, 60, 70],
            "weight_2021": [52, 61, 69],
        }
    )
    panel = pd.wide_to_long(people, stubnames=["height", "weight"], i="id", j="year", sep="_")
    assert panel.shape == (6, 2) and set(panel.index.get_level_values("year")) == {2020, 2021}
    baskets = pd.DataFrame({"basket": [1, 2], "items": [["a", "b", "c"], ["b", "d"]]})
    exploded = baskets.explode("items")
    assert len(exploded) == 5 and exploded["items"].value_counts()["b"] == 2
    print(f"OK reshape_pivot pivot={table.shape} melt={len(long)} panel={panel.shape}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
