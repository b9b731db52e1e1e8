"""MultiIndex work in pandas: from_product / from_tuples, stack and unstack, xs,
IndexSlice selection, swaplevel, sort_index, groupby on levels and reset_index."""

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd


def main(workdir: Path) -> None:
    rng = np.random.default_rng(4)
    index = pd.MultiIndex.from_product(
        [["AAPL", "MSFT", "NVDA"], pd.date_range("2024-01-01", periods=50, freq="B")],
        names=["ticker", "date"],
    )
    prices = pd.DataFrame(
        {
            "close": 100 + rng.normal(0, 1, len(index)).cumsum(),
            "volume": rng.integers(1_000, 10_000, len(index)),
        },
        index=index,
    )
    assert prices.index.nlevels == 2 and len(prices) == 150
    wide = prices["close"].unstack("ticker")
    assert wide.shape == (50, 3) and list(wide.columns) == ["AAPL", "MSFT", "NVDA"]
    stacked = wide.stack()
    assert len(stacked) == 150 and stacked.index.names == ["date", "ticker"]
    msft = prices.xs("MSFT", level="ticker")
    assert len(msft) == 50 and msft.index.name == "date"
    idx = pd.IndexSlice
    window = prices.sort_index().loc[idx[["AAPL", "NVDA"], "2024-01-08":"2024-01-12"], :]
    assert len(window) == 10, len(window)
    swapped = prices.swaplevel().sort_index()
    assert swapped.index.names == ["date", "ticker"] and swapped.index.is_monotonic_increasing
    per_ticker = prices.groupby(level="ticker")["volume"].sum()
    assert per_ticker.sum() == prices["volume"].sum()
    cols = pd.MultiIndex.from_tuples([("price", "open"), ("price", "close"), ("vol", "total")])
    frame = pd.DataFrame(rng.random((4, 3)), columns=cols)
    assert frame["price"].shape == (4, 2) and frame[("vol", "total")].shape == (4,)
    flat = frame.copy()
    flat.columns = ["_".join(c) for c in frame.columns]
    assert list(flat.columns) == ["price_open", "price_close", "vol_total"]
    back = prices.reset_index()
    assert {"ticker", "date"} <= set(back.columns) and len(back) == 150
    again = back.set_index(["ticker", "date"])
    pd.testing.assert_frame_equal(again, prices)
    returns = wide.pct_change().stack().groupby(level="ticker").std()
    assert (returns > 0).all()
    print(f"OK multiindex_stack rows={len(prices)} wide={wide.shape} window={len(window)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
