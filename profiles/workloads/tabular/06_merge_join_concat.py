"""Combining tables: merge with inner/left/outer and indicator, validate, suffixes,
DataFrame.join on the index, concat along both axes with keys, merge_asof and combine_first."""

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd


def main(workdir: Path) -> None:
    rng = np.random.default_rng(5)
    customers = pd.DataFrame({"cust": range(100), "segment": rng.choice(["retail", "pro"], 100)})
    orders = pd.DataFrame(
        {
            "order": range(500),
            "cust": rng.integers(0, 120, 500),
            "total": rng.gamma(2, 30, 500).round(2),
        }
    )
    inner = orders.merge(customers, on="cust", how="inner", validate="many_to_one")
    left = orders.merge(customers, on="cust", how="left", indicator=True)
    outer = orders.merge(customers, on="cust", how="outer", indicator=True)
    orphans = (left["_merge"] == "left_only").sum()
    assert len(inner) + orphans == len(orders) and left["segment"].isna().sum() == orphans
    no_orders = (outer["_merge"] == "right_only").sum()
    assert no_orders == len(set(customers["cust"]) - set(orders["cust"]))
    a = pd.DataFrame({"k": [1, 2, 3], "v": [10, 20, 30]})
    b = pd.DataFrame({"k": [1, 2, 4], "v": [100, 200, 400]})
    both = a.merge(b, on="k", suffixes=("_a", "_b"))
    assert list(both.columns) == ["k", "v_a", "v_b"] and len(both) == 2
    stats = orders.groupby("cust")["total"].agg(["sum", "count"])
    joined = customers.set_index("cust").join(stats, how="left")
    assert joined["count"].fillna(0).sum() == orders["cust"].isin(customers["cust"]).sum()
    parts = [orders.iloc[i : i + 100] for i in range(0, 500, 100)]
    glued = pd.concat(parts, keys=[f"p{i}" for i in range(5)], names=["part", "row"])
    assert glued.index.nlevels == 2 and len(glued.loc["p3"]) == 100
    side = pd.concat([a.set_index("k"), b.set_index("k")], axis=1, keys=["a", "b"])
    assert side.shape == (4, 2) and side.isna().sum().sum() == 2
    stacked = pd.concat([a, b], ignore_index=True)
    assert list(stacked.index) == list(range(6))
    trades = pd.DataFrame(
        {
            "time": pd.to_datetime(
                ["2024-01-01 09:00:01", "2024-01-01 09:00:05", "2024-01-01 09:00:09"]
            ),
            "qty": [5, 3, 8],
        }
    )
    quotes = pd.DataFrame(
        {
            "time": pd.to_datetime(
                ["2024-01-01 09:00:00", "2024-01-01 09:00:04", "2024-01-01 09:00:08"]
            ),
            "bid": [10.0, 10.5, 10.2],
        }
    )
    asof = pd.merge_asof(trades, quotes, on="time", direction="backward")
    assert asof["bid"].tolist() == [10.0, 10.5, 10.2]
    filled = a.set_index("k").combine_first(b.set_index("k"))
    assert filled.loc[4, "v"] == 400 and filled.loc[1, "v"] == 10
    print(f"OK merge_join_concat inner={len(inner)} orphans={orphans} asof={len(asof)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
