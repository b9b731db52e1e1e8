"""Preprocessing as people combine it: SimpleImputer (with missing indicator), KNNImputer,
FeatureUnion of PCA and SelectKBest, PolynomialFeatures, TransformedTargetRegressor with a
log target, cross_val_predict, and permutation_importance."""

import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import make_regression
from sklearn.decomposition import PCA
from sklearn.feature_selection import SelectKBest, f_regression
from sklearn.impute import KNNImputer, SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler


def main(workdir: Path) -> None:
    rng = np.random.default_rng(40)
    X, y = make_regression(n_samples=400, n_features=8, n_informative=4, noise=5.0, random_state=40)
    y = np.exp((y - y.min()) / (y.max() - y.min()) * 3)
    holes = X.copy()
    holes[rng.random(holes.shape) < 0.1] = np.nan
    simple = SimpleImputer(strategy="median", add_indicator=True).fit_transform(holes)
    assert simple.shape[1] > 8 and not np.isnan(simple).any()
    knn = KNNImputer(n_neighbors=5).fit_transform(holes)
    assert not np.isnan(knn).any()
    assert np.allclose(knn[~np.isnan(holes)], holes[~np.isnan(holes)])
    union = FeatureUnion([("pca", PCA(n_components=3)), ("best", SelectKBest(f_regression, k=3))])
    model = TransformedTargetRegressor(
        regressor=make_pipeline(
            SimpleImputer(), StandardScaler(), union, PolynomialFeatures(2), Ridge(alpha=1.0)
        ),
        func=np.log,
        inverse_func=np.exp,
    )
    predicted = cross_val_predict(model, holes, y, cv=5)
    score = r2_score(np.log(y), np.log(np.clip(predicted, 1e-9, None)))
    assert score > 0.5, score
    model.fit(holes, y)
    importance = permutation_importance(model, holes, y, n_repeats=3, random_state=0)
    assert importance.importances_mean.shape == (8,)
    print(f"OK 40_impute_union_target r2_log={score:.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
