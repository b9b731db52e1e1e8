"""An end-to-end notebook in one file: write a messy customer CSV, load it with dtypes and
dates, clean (strip/upper strings, fix types, dedupe, impute), engineer features (tenure
from dates, ratios, a groupby aggregate merged back), then a ColumnTransformer +
HistGradientBoosting / LogisticRegression comparison with GridSearchCV, evaluation with a
classification report, and the winning model saved and reloaded with joblib."""

import sys
import tempfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import classification_report, confusion_matrix, roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler


def write_raw(path: Path, rng: np.random.Generator, n: int) -> None:
    signup = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1400, n), unit="D")
    plan = rng.choice(["basic", "plus", "premium"], n, p=[0.5, 0.3, 0.2])
    monthly = np.select([plan == "basic", plan == "plus"], [10.0, 20.0], 35.0) + rng.normal(0, 2, n)
    calls = rng.poisson(2, n)
    tenure = (pd.Timestamp("2024-01-01") - signup).days.to_numpy()
    logit = -1.0 + 0.6 * calls - tenure / 600 + (plan == "basic") * 0.8 + rng.normal(0, 0.5, n)
    raw = pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "signup": signup.strftime("%Y-%m-%d"),
            "plan": [f"  {p.upper() if i % 3 == 0 else p} " for i, p in enumerate(plan)],
            "region": rng.choice(["eu", "us", "apac", None], n, p=[0.4, 0.35, 0.2, 0.05]),
            "monthly_fee": monthly.round(2).astype(str),
            "support_calls": calls.astype(float),
            "churned": np.where(logit > 0, "yes", "no"),
        }
    )
    raw.loc[rng.random(n) < 0.05, "support_calls"] = np.nan
    raw.loc[rng.random(n) < 0.01, "monthly_fee"] = "n/a"
    raw = pd.concat([raw, raw.sample(100, random_state=0)])  # duplicated rows
    raw.to_csv(path, index=False)


def main(workdir: Path) -> None:
    rng = np.random.default_rng(31)
    path = workdir / "customers.csv"
    write_raw(path, rng, 4000)
    df = pd.read_csv(path, parse_dates=["signup"], na_values=["n/a"])
    assert df["signup"].dtype.kind == "M" and df["monthly_fee"].dtype == float
    df = df.drop_duplicates(subset="customer_id").reset_index(drop=True)
    assert len(df) == 4000
    df["plan"] = df["plan"].str.strip().str.lower().astype("category")
    assert set(df["plan"].cat.categories) == {"basic", "plus", "premium"}
    df["churned"] = (df["churned"] == "yes").astype(int)
    df["tenure_days"] = (pd.Timestamp("2024-01-01") - df["signup"]).dt.days
    df["signup_month"] = df["signup"].dt.month
    plan_fee = df.groupby("plan", observed=True)["monthly_fee"].median().rename("plan_median_fee")
    df = df.merge(plan_fee, left_on="plan", right_index=True, how="left")
    df["fee_ratio"] = df["monthly_fee"] / df["plan_median_fee"]
    summary = df.groupby("plan", observed=True).agg(
        customers=("customer_id", "size"), churn_rate=("churned", "mean")
    )
    print(summary.round(3).to_string())
    assert summary.loc["basic", "churn_rate"] > summary.loc["premium", "churn_rate"]
    features = [
        "plan",
        "region",
        "monthly_fee",
        "support_calls",
        "tenure_days",
        "signup_month",
        "fee_ratio",
    ]
    X, y = df[features], df["churned"]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    numeric = ["monthly_fee", "support_calls", "tenure_days", "signup_month", "fee_ratio"]
    linear_pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
                ),
                ["plan", "region"],
            ),
        ]
    )
    tree_pre = ColumnTransformer(
        [
            ("num", "passthrough", numeric),
            (
                "cat",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1
                ),
                ["plan", "region"],
            ),
        ]
    )
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    candidates = {
        "logreg": GridSearchCV(
            Pipeline([("pre", linear_pre), ("clf", LogisticRegression(max_iter=1000))]),
            {"clf__C": [0.1, 1.0, 10.0]},
            cv=cv,
            scoring="roc_auc",
        ),
        "hgb": GridSearchCV(
            Pipeline(
                [
                    ("pre", tree_pre),
                    (
                        "clf",
                        HistGradientBoostingClassifier(
                            categorical_features=[5, 6], max_iter=40, random_state=0
                        ),
                    ),
                ]
            ),
            {"clf__max_depth": [3, None], "clf__learning_rate": [0.2]},
            cv=cv,
            scoring="roc_auc",
        ),
    }
    aucs = {}
    for name, search in candidates.items():
        search.fit(X_train, y_train)
        aucs[name] = roc_auc_score(y_test, search.predict_proba(X_test)[:, 1])
    assert min(aucs.values()) > 0.85, aucs
    best_name = max(aucs, key=aucs.get)
    best = candidates[best_name].best_estimator_
    pred = best.predict(X_test)
    report = classification_report(y_test, pred, output_dict=True)
    assert report["accuracy"] > 0.8 and confusion_matrix(y_test, pred).sum() == len(y_test)
    print(classification_report(y_test, pred, digits=3))
    model_path = workdir / "churn_model.joblib"
    joblib.dump({"model": best, "features": features, "auc": aucs[best_name]}, model_path)
    bundle = joblib.load(model_path)
    again = bundle["model"].predict_proba(X_test[bundle["features"]])[:, 1]
    assert np.allclose(again, best.predict_proba(X_test)[:, 1])
    scored = X_test.assign(risk=again).sort_values("risk", ascending=False)
    assert scored["risk"].is_monotonic_decreasing
    print(
        f"OK end_to_end_churn aucs={ {k: round(v, 3) for k, v in aucs.items()} } best={best_name}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
