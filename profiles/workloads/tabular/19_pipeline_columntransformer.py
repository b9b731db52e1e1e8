"""scikit-learn composition on a mixed-type DataFrame: Pipeline and make_pipeline,
ColumnTransformer with make_column_selector, FunctionTransformer, FeatureUnion,
set_output(transform="pandas"), get_feature_names_out, set_params on nested steps and
TransformedTargetRegressor."""

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler


def make_frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(float),
            "income": rng.lognormal(10, 0.6, n),
            "city": rng.choice(["paris", "rome", "oslo", "bern"], n),
            "plan": rng.choice(["free", "pro", "team"], n),
        }
    )
    df.loc[rng.random(n) < 0.05, "age"] = np.nan
    df.loc[rng.random(n) < 0.05, "city"] = np.nan
    score = 0.03 * df["age"].fillna(45) + 0.8 * (df["plan"] == "pro") - 1.4 + rng.normal(0, 0.3, n)
    df["churn"] = (score > 0).astype(int)
    return df


def main(workdir: Path) -> None:
    rng = np.random.default_rng(16)
    df = make_frame(rng, 3000)
    X, y = df.drop(columns="churn"), df["churn"]
    numeric = make_pipeline(
        SimpleImputer(strategy="median"),
        FunctionTransformer(np.log1p, feature_names_out="one-to-one"),
        StandardScaler(),
    )
    categorical = make_pipeline(
        SimpleImputer(strategy="most_frequent"),
        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
    )
    pre = ColumnTransformer(
        [
            ("num", numeric, make_column_selector(dtype_include="number")),
            ("cat", categorical, make_column_selector(dtype_exclude="number")),
        ]
    )
    model = Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))])
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    model.fit(X_train, y_train)
    acc = model.score(X_test, y_test)
    assert acc > 0.8, acc
    names = model[:-1].get_feature_names_out()
    assert "num__age" in names and "cat__plan_pro" in names and len(names) == 9, names
    model.set_params(clf__C=0.1, pre__num__simpleimputer__strategy="mean")
    assert model.get_params()["clf__C"] == 0.1
    acc2 = model.fit(X_train, y_train).score(X_test, y_test)
    assert acc2 > 0.75, acc2
    pre.set_output(transform="pandas")
    out = pre.fit_transform(X_train)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list(names)
    assert out.isna().sum().sum() == 0
    union = FeatureUnion([("raw", FunctionTransformer()), ("sq", FunctionTransformer(np.square))])
    assert union.fit_transform(np.ones((3, 2)) * 2).tolist()[0] == [2, 2, 4, 4]
    target = np.exp(X_train["income"].fillna(0).to_numpy() / 1e5)
    reg = TransformedTargetRegressor(
        regressor=make_pipeline(pre, Ridge()), func=np.log, inverse_func=np.exp
    )
    reg.fit(X_train, target)
    assert reg.predict(X_test).min() > 0
    passthrough = ColumnTransformer(
        [("scale", StandardScaler(), ["income"])],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    kept = passthrough.fit(X_train[["income", "plan"]]).get_feature_names_out()
    assert list(kept) == ["income", "plan"]
    print(f"OK pipeline_columntransformer accuracy={acc:.3f} features={len(names)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
