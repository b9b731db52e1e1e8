"""Printing frames and series: repr, to_string, to_html, info, describe (numeric and object),
to_dict orients, display options through option_context, and Series repr with a name."""

import io
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd


def main(workdir: Path) -> None:
    rng = np.random.default_rng(0)
    n = 200
    df = pd.DataFrame(
        {
            "city": rng.choice(["Oslo", "Lima", "Pune", "Kyiv"], n),
            "temp": rng.normal(15, 8, n).round(2),
            "rain": rng.exponential(3, n).round(1),
            "when": pd.date_range("2024-01-01", periods=n, freq="D"),
        }
    )
    text = repr(df)
    assert "city" in text and "[200 rows x 4 columns]" in text, text
    full = df.head(10).to_string(index=False, float_format="{:.1f}".format)
    assert len(full.splitlines()) == 11, full
    html = df.head(3).to_html(index=False)
    assert html.startswith("<table") and html.count("<tr") == 4, html
    buf = io.StringIO()
    df.info(buf=buf)
    assert "non-null" in buf.getvalue() and "datetime64" in buf.getvalue(), buf.getvalue()
    desc = df.describe()
    assert set(desc.index) == {"count", "mean", "std", "min", "25%", "50%", "75%", "max"}, desc
    assert desc.loc["count", "temp"] == n
    cats = df.describe(include=["object", "string"])
    assert cats.loc["unique", "city"] == 4, cats
    records = df.head(2).to_dict(orient="records")
    columns = df.head(2).to_dict()
    split = df.head(2).to_dict(orient="split")
    assert records[0]["city"] == df.loc[0, "city"] and set(columns) == set(df.columns)
    assert split["columns"] == list(df.columns)
    with pd.option_context("display.max_rows", 6, "display.precision", 1, "display.width", 60):
        short = repr(df)
    assert "..." in short and len(short.splitlines()) < 12, short
    s = df.set_index("when")["temp"].rename("temperature")
    srepr = repr(s.head())
    assert "Name: temperature" in srepr and "dtype: float64" in srepr, srepr
    print(df.groupby("city")["temp"].mean().round(2).to_string())
    print(f"OK frame_printing lines={len(text.splitlines())} html={len(html)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
