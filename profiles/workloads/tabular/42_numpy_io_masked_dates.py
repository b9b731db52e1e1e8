"""numpy's everyday extras: savez_compressed/load, savetxt/genfromtxt with missing values,
np.char string ops, datetime64/timedelta64 arithmetic and busday_count, histogram and
digitize, percentile/nanpercentile, masked arrays, and np.lib.stride_tricks windows."""

import sys
import tempfile
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def main(workdir: Path) -> None:
    rng = np.random.default_rng(42)
    a, b = rng.normal(size=(20, 3)), rng.integers(0, 9, 50)
    np.savez_compressed(workdir / "arrays.npz", a=a, b=b)
    with np.load(workdir / "arrays.npz") as data:
        assert np.array_equal(data["a"], a) and np.array_equal(data["b"], b)
    (workdir / "table.csv").write_text("x,y\n1,2\n3,\n5,6\n")
    table = np.genfromtxt(workdir / "table.csv", delimiter=",", names=True, filling_values=-1)
    assert table["y"].tolist() == [2.0, -1.0, 6.0]
    np.savetxt(workdir / "a.txt", a, fmt="%.6f")
    assert np.allclose(np.loadtxt(workdir / "a.txt"), a, atol=1e-6)
    names = np.array(["alice", "Bob", "carol"])
    assert np.char.upper(names).tolist() == ["ALICE", "BOB", "CAROL"]
    assert np.char.startswith(names, "c").tolist() == [False, False, True]
    days = np.arange("2026-01-01", "2026-02-01", dtype="datetime64[D]")
    assert len(days) == 31 and (days[-1] - days[0]) == np.timedelta64(30, "D")
    assert np.busday_count("2026-01-01", "2026-02-01") == 22
    assert str(np.datetime64("2026-03-01") - np.timedelta64(1, "D")) == "2026-02-28"
    counts, edges = np.histogram(a[:, 0], bins=5)
    assert counts.sum() == 20 and len(edges) == 6
    assert np.digitize([0.5, 2.5], [0, 1, 2, 3]).tolist() == [1, 3]
    with_nan = np.where(rng.random(100) < 0.1, np.nan, rng.normal(size=100))
    assert np.isnan(np.percentile(with_nan, 50)) and not np.isnan(np.nanpercentile(with_nan, 50))
    masked = np.ma.masked_invalid(with_nan)
    assert masked.count() == (~np.isnan(with_nan)).sum()
    assert abs(masked.mean() - np.nanmean(with_nan)) < 1e-12
    windows = sliding_window_view(np.arange(10), 3)
    assert windows.shape == (8, 3) and windows.mean(axis=1).tolist()[0] == 1.0
    print(f"OK 42_numpy_io_masked_dates busdays={np.busday_count('2026-01-01', '2026-02-01')}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
