"""HistGradientBoosting on a DataFrame with missing values and pandas categoricals:
native categorical_features="from_dtype", early stopping with a validation fraction,
monotonic constraints, quantile and poisson losses, class_weight, and partial dependence."""

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.inspection import partial_dependence
from sklearn.metrics import mean_pinball_loss, r2_score, roc_auc_score
from sklearn.model_selection import train_test_split


def main(workdir: Path) -> None:
    rng = np.random.default_rng(18)
    n = 10_000
    df = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.uniform(-2, 2, n),
            "x3": rng.normal(size=n),
            "shop": pd.Categorical(rng.choice(["a", "b", "c", "d", "e"], n)),
        }
    )
    effect = df["shop"].map({"a": 0.0, "b": 1.0, "c": -1.0, "d": 2.0, "e": 0.5}).astype(float)
    logit = 1.5 * df["x1"] - df["x2"] ** 2 + effect + rng.normal(0, 0.5, n)
    y = (logit > 0).astype(int)
    df.loc[rng.random(n) < 0.1, "x3"] = np.nan
    df.loc[rng.random(n) < 0.05, "x1"] = np.nan
    X_train, X_test, y_train, y_test = train_test_split(df, y, test_size=0.25, random_state=0)
    clf = HistGradientBoostingClassifier(
        categorical_features="from_dtype",
        max_iter=200,
        early_stopping=True,
        validation_fraction=0.15,
        n_iter_no_change=5,
        random_state=0,
    )
    clf.fit(X_train, y_train)
    auc = roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1])
    assert auc > 0.93 and clf.n_iter_ < 200, (auc, clf.n_iter_)
    assert clf.is_categorical_ is not None and clf.is_categorical_.sum() == 1
    weighted = HistGradientBoostingClassifier(class_weight="balanced", max_iter=30, random_state=0)
    assert weighted.fit(X_train, y_train).score(X_test, y_test) > 0.8
    target = 3 * df["x1"].fillna(0) + np.exp(df["x2"]) + rng.normal(0, 0.3, n)
    Xr_train, Xr_test, yr_train, yr_test = train_test_split(df, target, random_state=0)
    reg = HistGradientBoostingRegressor(
        max_iter=60, learning_rate=0.2, monotonic_cst={"x2": 1}, random_state=0
    ).fit(Xr_train, yr_train)
    r2 = r2_score(yr_test, reg.predict(Xr_test))
    assert r2 > 0.9, r2
    pd_result = partial_dependence(
        reg, Xr_train.sample(1000, random_state=0), ["x2"], grid_resolution=20
    )
    curve = pd_result["average"][0]
    assert np.all(np.diff(curve) >= -1e-9), curve
    q90 = HistGradientBoostingRegressor(
        loss="quantile", quantile=0.9, max_iter=40, max_leaf_nodes=15, random_state=0
    )
    q90.fit(Xr_train, yr_train)
    cover = (yr_test <= q90.predict(Xr_test)).mean()
    assert 0.85 < cover < 0.95, cover
    assert mean_pinball_loss(yr_test, q90.predict(Xr_test), alpha=0.9) > 0
    counts = rng.poisson(np.exp(0.5 * df["x2"].to_numpy() + 1))
    pois = HistGradientBoostingRegressor(
        loss="poisson", max_iter=30, max_leaf_nodes=15, random_state=0
    )
    pois.fit(df[["x2"]], counts)
    assert pois.predict(df[["x2"]]).min() > 0
    print(
        f"OK hist_gradient_boosting auc={auc:.3f} iters={clf.n_iter_} r2={r2:.3f} "
        f"q90_cover={cover:.3f}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
