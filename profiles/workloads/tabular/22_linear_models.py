"""Linear models on load_diabetes and load_wine: LinearRegression, Ridge, Lasso (sparsity),
ElasticNet, RidgeCV / LassoCV, LogisticRegression (multinomial, predict_proba, coef_),
SGDClassifier/SGDRegressor, HuberRegressor, and mean_squared_error / r2_score."""

import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_diabetes, load_wine
from sklearn.linear_model import (
    ElasticNet,
    HuberRegressor,
    Lasso,
    LassoCV,
    LinearRegression,
    LogisticRegression,
    LogisticRegressionCV,
    Ridge,
    RidgeCV,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.metrics import accuracy_score, mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main(workdir: Path) -> None:
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    results = {}
    for name, model in [
        ("ols", LinearRegression()),
        ("ridge", Ridge(alpha=0.1)),
        ("lasso", Lasso(alpha=0.1)),
        ("enet", ElasticNet(alpha=0.001, l1_ratio=0.5)),
        ("huber", make_pipeline(StandardScaler(), HuberRegressor(max_iter=500))),
        ("sgd", make_pipeline(StandardScaler(), SGDRegressor(random_state=0))),
    ]:
        pred = model.fit(X_train, y_train).predict(X_test)
        results[name] = r2_score(y_test, pred)
        assert mean_squared_error(y_test, pred) > 0 and mean_absolute_error(y_test, pred) > 0
    assert all(r > 0.25 for r in results.values()), results
    ols = LinearRegression().fit(X_train, y_train)
    assert np.allclose(ols.predict(X_test), X_test @ ols.coef_ + ols.intercept_)
    lasso = Lasso(alpha=1.0).fit(X_train, y_train)
    assert (lasso.coef_ == 0).sum() >= 3, lasso.coef_
    rcv = RidgeCV(alphas=np.logspace(-4, 2, 20)).fit(X_train, y_train)
    lcv = LassoCV(cv=5, random_state=0).fit(X_train, y_train)
    assert rcv.alpha_ > 0 and lcv.alpha_ > 0 and r2_score(y_test, lcv.predict(X_test)) > 0.3
    Xw, yw = load_wine(return_X_y=True)
    Xw_train, Xw_test, yw_train, yw_test = train_test_split(Xw, yw, stratify=yw, random_state=0)
    logreg = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    logreg.fit(Xw_train, yw_train)
    acc = accuracy_score(yw_test, logreg.predict(Xw_test))
    assert acc > 0.93, acc
    proba = logreg.predict_proba(Xw_test)
    assert proba.shape == (len(yw_test), 3) and np.allclose(proba.sum(1), 1)
    clf = logreg[-1]
    assert clf.coef_.shape == (3, 13) and list(clf.classes_) == [0, 1, 2]
    sparse = make_pipeline(
        StandardScaler(), LogisticRegression(solver="saga", l1_ratio=1.0, C=0.1, max_iter=5000)
    )
    sparse.fit(Xw_train, yw_train)
    assert (sparse[-1].coef_ == 0).sum() > 0
    lrcv = make_pipeline(
        StandardScaler(),
        LogisticRegressionCV(
            Cs=5,
            cv=3,
            l1_ratios=(0.0,),
            scoring="neg_log_loss",
            use_legacy_attributes=False,
            max_iter=1000,
        ),
    )
    lrcv.fit(Xw_train, yw_train)
    assert lrcv.score(Xw_test, yw_test) < 0  # scored by neg_log_loss
    assert accuracy_score(yw_test, lrcv.predict(Xw_test)) > 0.9
    sgd = make_pipeline(StandardScaler(), SGDClassifier(loss="log_loss", random_state=0))
    assert sgd.fit(Xw_train, yw_train).score(Xw_test, yw_test) > 0.85
    print(
        f"OK linear_models r2={ {k: round(v, 3) for k, v in results.items()} } wine_acc={acc:.3f}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
