"""Not traced for any profile: time series and reshaping in pandas (datetime index, resample,
rolling, pivot_table, categoricals, JSON round trip), then a scikit-learn Pipeline with a
ColumnTransformer (one-hot + scaling), Ridge regression and cross-validation."""
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def make_sales(rng: np.random.Generator) -> pd.DataFrame:
    hours = pd.date_range("2024-01-01", periods=24 * 90, freq="h")
    store = pd.Categorical(rng.choice(["north", "south", "east"], len(hours)))
    base = pd.Series(store).map({"north": 10.0, "south": 20.0, "east": 15.0}).to_numpy()
    return pd.DataFrame({
        "when": hours, "store": store, "price": rng.uniform(1, 5, len(hours)),
        "sales": base + 3 * np.sin(np.arange(len(hours)) / 24 * 2 * np.pi)
        + rng.normal(0, 1, len(hours)),
    })


def main(workdir: Path) -> None:
    rng = np.random.default_rng(1)
    sales = make_sales(rng)
    path = workdir / "sales.json"
    sales.to_json(path, orient="records", date_format="iso")
    sales = pd.read_json(path, orient="records")
    sales["when"] = pd.to_datetime(sales["when"])
    sales["store"] = sales["store"].astype("category")
    daily = sales.set_index("when").groupby("store", observed=True)["sales"].resample("D").sum()
    smooth = daily.groupby(level="store", observed=True).transform(lambda s: s.rolling(7).mean())
    table = sales.assign(month=sales["when"].dt.month_name()).pivot_table(
        index="store", columns="month", values="sales", aggfunc="mean", observed=True
    )
    assert table.shape == (3, 3) and smooth.notna().sum() > 0, table.shape
    sales["hour"] = sales["when"].dt.hour
    model = Pipeline([
        ("columns", ColumnTransformer([
            ("onehot", OneHotEncoder(handle_unknown="ignore"), ["store", "hour"]),
            ("scale", StandardScaler(), ["price"]),
        ])),
        ("ridge", Ridge(alpha=1.0)),
    ])
    features, target = sales[["store", "hour", "price"]], sales["sales"]
    scores = cross_val_score(model, features, target, cv=KFold(4, shuffle=True, random_state=0))
    fitted = model.fit(features, target)
    r2 = r2_score(target, fitted.predict(features))
    assert scores.mean() > 0.8 and r2 > 0.8, (scores, r2)
    print(f"OK tabular_extra cv_r2={scores.mean():.3f} days={len(daily)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
