"""pandas JSON and pickle IO: to_json / read_json in several orients and JSON lines,
json_normalize of nested records, and to_pickle / read_pickle with compression."""

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd


def main(workdir: Path) -> None:
    rng = np.random.default_rng(2)
    n = 1000
    df = pd.DataFrame(
        {
            "user": [f"u{i % 37}" for i in range(n)],
            "amount": rng.gamma(2.0, 10.0, n).round(2),
            "ok": rng.random(n) > 0.2,
            "ts": pd.date_range("2024-03-01", periods=n, freq="15min"),
        }
    )
    for orient in ["records", "split", "columns", "index", "table"]:
        path = workdir / f"data_{orient}.json"
        df.to_json(path, orient=orient, date_format="iso")
        back = pd.read_json(path, orient=orient)
        assert len(back) == n, (orient, len(back))
        ts = pd.to_datetime(back["ts"])
        if ts.dt.tz is not None:
            ts = ts.dt.tz_localize(None)
        assert (ts.to_numpy() == df["ts"].to_numpy()).all(), orient
        assert np.allclose(back["amount"].to_numpy(), df["amount"].to_numpy()), orient
    lines = workdir / "data.jsonl"
    df.to_json(lines, orient="records", lines=True, date_format="iso")
    assert len(lines.read_text().splitlines()) == n
    chunks = list(pd.read_json(lines, lines=True, chunksize=300))
    assert [len(c) for c in chunks] == [300, 300, 300, 100]
    nested = [
        {
            "id": i,
            "info": {"name": f"n{i}", "geo": {"lat": i * 0.5, "lon": -i}},
            "tags": [{"t": "x", "w": i}, {"t": "y", "w": 2 * i}],
        }
        for i in range(20)
    ]
    (workdir / "nested.json").write_text(json.dumps(nested))
    flat = pd.json_normalize(json.loads((workdir / "nested.json").read_text()))
    assert "info.geo.lat" in flat.columns and len(flat) == 20, flat.columns
    tags = pd.json_normalize(nested, record_path="tags", meta=["id", ["info", "name"]])
    assert len(tags) == 40 and tags["w"].sum() == 3 * sum(range(20)), tags
    for comp in [None, "gzip", "bz2", "xz", "zip"]:
        suffix = "" if comp is None else "." + comp
        path = workdir / f"frame.pkl{suffix}"
        df.to_pickle(path, compression=comp)
        back = pd.read_pickle(path, compression=comp)
        pd.testing.assert_frame_equal(back, df)
    text = df.head(3).to_json(orient="records", date_format="iso")
    assert json.loads(text)[0]["user"] == "u0"
    print(f"OK json_pickle_io rows={n} flat_cols={flat.shape[1]} tags={len(tags)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
