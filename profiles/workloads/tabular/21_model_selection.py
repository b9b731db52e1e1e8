"""Model selection: train_test_split with stratify, KFold, StratifiedKFold, GroupKFold,
TimeSeriesSplit, cross_val_score, cross_validate with several scorers, cross_val_predict,
GridSearchCV (refit, cv_results_), RandomizedSearchCV with scipy distributions,
validation_curve and learning_curve."""

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import loguniform, randint
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    KFold,
    RandomizedSearchCV,
    StratifiedKFold,
    TimeSeriesSplit,
    cross_val_predict,
    cross_val_score,
    cross_validate,
    learning_curve,
    train_test_split,
    validation_curve,
)
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier


def main(workdir: Path) -> None:
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0
    )
    assert abs(y_train.mean() - y_test.mean()) < 0.01
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    kf = KFold(n_splits=5, shuffle=True, random_state=0)
    scores = cross_val_score(model, X_train, y_train, cv=kf)
    assert len(scores) == 5 and scores.mean() > 0.95, scores
    skf = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    for _train_idx, test_idx in skf.split(X_train, y_train):
        assert abs(y_train[test_idx].mean() - y_train.mean()) < 0.02
    res = cross_validate(
        model,
        X_train,
        y_train,
        cv=skf,
        scoring=["accuracy", "roc_auc", "f1"],
        return_train_score=True,
    )
    assert res["test_roc_auc"].mean() > 0.98 and "train_accuracy" in res
    proba = cross_val_predict(model, X_train, y_train, cv=skf, method="predict_proba")
    assert proba.shape == (len(y_train), 2) and np.allclose(proba.sum(1), 1)
    groups = np.arange(len(y_train)) % 10
    for train_idx, test_idx in GroupKFold(n_splits=5).split(X_train, y_train, groups):
        assert not set(groups[train_idx]) & set(groups[test_idx])
    last = -1
    for train_idx, test_idx in TimeSeriesSplit(n_splits=4).split(X_train):
        assert train_idx.max() < test_idx.min() and test_idx.min() > last
        last = test_idx.min()
    grid = GridSearchCV(
        make_pipeline(StandardScaler(), KNeighborsClassifier()),
        {
            "kneighborsclassifier__n_neighbors": [1, 5, 15],
            "kneighborsclassifier__weights": ["uniform", "distance"],
        },
        cv=skf,
        scoring="accuracy",
    )
    grid.fit(X_train, y_train)
    table = pd.DataFrame(grid.cv_results_)
    assert len(table) == 6 and table["rank_test_score"].min() == 1
    assert grid.best_params_["kneighborsclassifier__n_neighbors"] in (5, 15)
    assert grid.score(X_test, y_test) > 0.93
    search = RandomizedSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        {"logisticregression__C": loguniform(1e-3, 1e2)},
        n_iter=8,
        cv=3,
        random_state=0,
    )
    search.fit(X_train, y_train)
    assert search.best_score_ > 0.95 and len(search.cv_results_["params"]) == 8
    Xi, yi = load_iris(return_X_y=True)
    tree_search = RandomizedSearchCV(
        DecisionTreeClassifier(random_state=0),
        {"max_depth": randint(1, 8), "min_samples_leaf": randint(1, 10)},
        n_iter=10,
        cv=5,
        random_state=0,
    ).fit(Xi, yi)
    assert tree_search.best_score_ > 0.9
    train_s, valid_s = validation_curve(
        DecisionTreeClassifier(random_state=0),
        Xi,
        yi,
        param_name="max_depth",
        param_range=[1, 2, 3, 5],
        cv=5,
    )
    assert train_s.shape == (4, 5) and valid_s.mean(1)[0] < valid_s.mean(1)[2]
    sizes, tr, va = learning_curve(
        LogisticRegression(max_iter=500),
        Xi,
        yi,
        cv=5,
        train_sizes=[0.3, 0.6, 1.0],
        shuffle=True,
        random_state=0,
    )
    assert len(sizes) == 3 and va.mean(1)[-1] > 0.9
    print(
        f"OK model_selection cv={scores.mean():.3f} best={grid.best_params_} "
        f"test={grid.score(X_test, y_test):.3f}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
