"""Text cleaning with the pandas str accessor: strip/lower/title, split with expand,
extract and extractall with regex groups, contains/startswith, replace with regex,
pad/zfill/slice, str.cat, str.get_dummies, len, and the string dtype."""

import sys
import tempfile
from pathlib import Path

import pandas as pd


def main(workdir: Path) -> None:
    raw = pd.Series(
        [
            "  Alice Smith <alice@example.com> tel:+44-20-1234 ",
            "bob JONES <bob.jones@mail.org> tel:+1-555-9876",
            "Carol de la Cruz <carol@x.io>",
            None,
            "dave   o'neil <DAVE@Example.COM> tel:+49-30-5555",
        ]
        * 200
    )
    s = raw.astype("string")
    assert s.dtype == "string" and s.isna().sum() == 200
    clean = s.str.strip().str.replace(r"\s+", " ", regex=True)
    name = clean.str.extract(r"^(?P<name>[^<]+?)\s*<")["name"].str.title()
    assert name.iloc[1] == "Bob Jones" and name.iloc[4] == "Dave O'Neil", name.head().tolist()
    parts = name.str.split(" ", n=1, expand=True)
    assert parts.shape[1] == 2 and parts.iloc[2, 1] == "De La Cruz"
    email = clean.str.extract(r"<([^>]+)>", expand=False).str.lower()
    assert email.str.endswith((".com", ".org", ".io")).sum() == 800
    domain = email.str.split("@").str[1]
    assert domain.value_counts()["example.com"] == 400
    phones = clean.str.extract(r"tel:\+(?P<cc>\d+)-(?P<area>\d+)-(?P<num>\d+)")
    assert phones["cc"].dropna().astype(int).tolist()[:3] == [44, 1, 49]
    has_phone = clean.str.contains("tel:", na=False)
    assert has_phone.sum() == 600
    digits = clean.str.extractall(r"(\d)")
    assert digits.index.nlevels == 2 and len(digits) > 0
    masked = email.str.replace(r"^(.)[^@]*", r"\1***", regex=True)
    assert masked.iloc[0] == "a***@example.com", masked.iloc[0]
    codes = pd.Series(range(1, 6)).astype(str).str.zfill(4)
    assert codes.tolist()[0] == "0001"
    padded = pd.Series(["x", "yy"]).str.pad(5, side="both", fillchar="*")
    assert padded.tolist() == ["**x**", "**yy*"], padded.tolist()
    assert clean.str.slice(0, 5).str.len().max() == 5
    joined = pd.Series(["a", "b", "c"]).str.cat(sep="|")
    assert joined == "a|b|c"
    pairs = pd.Series(["a", "b"]).str.cat(pd.Series(["1", "2"]), sep="-")
    assert pairs.tolist() == ["a-1", "b-2"]
    tags = pd.Series(["sql|python", "python", "r|sql|excel", ""])
    dummies = tags.str.get_dummies(sep="|")
    assert (
        list(dummies.columns) == ["excel", "python", "r", "sql"] and dummies.to_numpy().sum() == 6
    )
    words = clean.dropna().str.lower().str.findall(r"[a-z]+").explode().value_counts()
    assert words["tel"] == 600
    assert s.str.upper().str.isupper().sum() == 800
    print(f"OK string_methods rows={len(s)} domains={domain.nunique()} words={len(words)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
