"""groupby in depth: named aggregation, agg with lists and lambdas, transform, apply,
filter, cumcount/cumsum/rank, nunique, pd.Grouper on dates, and several keys."""

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd


def main(workdir: Path) -> None:
    rng = np.random.default_rng(6)
    n = 10_000
    df = pd.DataFrame(
        {
            "team": rng.choice(["red", "blue", "green", "gold"], n),
            "player": rng.integers(0, 200, n),
            "score": rng.poisson(12, n),
            "minutes": rng.uniform(10, 40, n),
            "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 120, n), unit="D"),
        }
    )
    named = df.groupby("team").agg(
        games=("score", "size"),
        total=("score", "sum"),
        best=("score", "max"),
        avg_min=("minutes", "mean"),
        players=("player", "nunique"),
    )
    assert named["games"].sum() == n and named["total"].sum() == df["score"].sum()
    multi = df.groupby(["team", "player"])["score"].agg(
        ["mean", "std", lambda s: s.max() - s.min()]
    )
    assert multi.shape[1] == 3 and multi.index.nlevels == 2
    df["team_mean"] = df.groupby("team")["score"].transform("mean")
    df["z"] = df.groupby("team")["score"].transform(lambda s: (s - s.mean()) / s.std())
    assert np.allclose(df.groupby("team")["z"].mean(), 0, atol=1e-9)
    top = df.groupby("team")[["player", "score"]].apply(lambda g: g.nlargest(3, "score"))
    assert len(top) == 12
    busy = df.groupby("player").filter(lambda g: len(g) >= 55)
    assert busy.groupby("player").size().min() >= 55
    df = df.sort_values(["team", "day"])
    df["nth"] = df.groupby("team").cumcount()
    df["running"] = df.groupby("team")["score"].cumsum()
    df["rank"] = df.groupby("team")["score"].rank(method="dense", ascending=False)
    last = df.groupby("team").tail(1)
    assert (last["running"].to_numpy() == named.loc[last["team"], "total"].to_numpy()).all()
    monthly = df.groupby([pd.Grouper(key="day", freq="MS"), "team"])["score"].sum().unstack()
    assert monthly.shape == (4, 4) and monthly.to_numpy().sum() == df["score"].sum()
    first = df.groupby("team").first()
    sizes = df.groupby("team", sort=False).ngroups
    assert len(first) == 4 and sizes == 4
    binned = df.groupby(pd.cut(df["minutes"], [10, 20, 30, 40]), observed=True)["score"].mean()
    assert len(binned) == 3
    print(
        f"OK groupby teams={len(named)} busy_players={busy['player'].nunique()} "
        f"months={len(monthly)}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
