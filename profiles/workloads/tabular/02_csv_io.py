"""pandas CSV IO: to_csv / read_csv with dtypes, parse_dates, usecols, na_values, a
gzip-compressed file, chunked reading, a custom separator and a StringIO round trip."""

import io
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd


def main(workdir: Path) -> None:
    rng = np.random.default_rng(1)
    n = 5000
    df = pd.DataFrame(
        {
            "id": np.arange(n),
            "day": pd.date_range("2023-01-01", periods=n, freq="h"),
            "group": rng.choice(["a", "b", "c"], n),
            "value": rng.normal(size=n),
            "count": rng.integers(0, 100, n),
        }
    )
    df.loc[::97, "value"] = np.nan
    plain = workdir / "data.csv"
    df.to_csv(plain, index=False, float_format="%.6f")
    back = pd.read_csv(plain, parse_dates=["day"], dtype={"group": "category", "count": "int32"})
    assert back.shape == df.shape and back["group"].dtype == "category"
    assert back["count"].dtype == np.int32 and back["day"].dtype.kind == "M"
    assert back["value"].isna().sum() == df["value"].isna().sum()
    assert np.allclose(back["value"].fillna(0), df["value"].fillna(0), atol=1e-6)
    gz = workdir / "data.csv.gz"
    df.to_csv(gz, index=False)
    subset = pd.read_csv(gz, usecols=["id", "value"], nrows=100)
    assert list(subset.columns) == ["id", "value"] and len(subset) == 100
    total = 0
    sums = []
    for chunk in pd.read_csv(plain, chunksize=1000):
        total += len(chunk)
        sums.append(chunk["count"].sum())
    assert total == n and sum(sums) == df["count"].sum()
    semi = workdir / "semi.txt"
    semi.write_text("name;score;note\nann;1,5;ok\nbob;missing;-\ncid;3,25;ok\n")
    odd = pd.read_csv(semi, sep=";", decimal=",", na_values=["missing", "-"])
    assert odd["score"].isna().sum() == 1 and odd["score"].sum() == 4.75, odd
    assert odd["note"].isna().sum() == 1
    buf = io.StringIO()
    df.head(50).to_csv(buf, sep="\t", index=False)
    again = pd.read_csv(io.StringIO(buf.getvalue()), sep="\t", index_col="id")
    assert again.index.name == "id" and len(again) == 50
    print(f"OK csv_io rows={len(back)} bytes={plain.stat().st_size} gz={gz.stat().st_size}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
