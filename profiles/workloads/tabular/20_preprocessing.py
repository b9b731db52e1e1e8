"""scikit-learn preprocessing and imputation: StandardScaler, MinMaxScaler, RobustScaler,
MaxAbsScaler, Normalizer, QuantileTransformer, PowerTransformer, OneHotEncoder (unknowns,
drop, min_frequency), OrdinalEncoder, LabelEncoder, PolynomialFeatures, SplineTransformer,
KBinsDiscretizer, SimpleImputer, KNNImputer and IterativeImputer."""

import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.preprocessing import (
    KBinsDiscretizer,
    LabelEncoder,
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    OneHotEncoder,
    OrdinalEncoder,
    PolynomialFeatures,
    PowerTransformer,
    QuantileTransformer,
    RobustScaler,
    SplineTransformer,
    StandardScaler,
)


def main(workdir: Path) -> None:
    rng = np.random.default_rng(17)
    X = np.column_stack(
        [rng.normal(10, 3, 1000), rng.lognormal(0, 1, 1000), rng.uniform(-5, 5, 1000)]
    )
    std = StandardScaler().fit_transform(X)
    assert np.allclose(std.mean(0), 0) and np.allclose(std.std(0), 1)
    mm = MinMaxScaler(feature_range=(-1, 1)).fit_transform(X)
    assert np.allclose(mm.min(0), -1) and np.allclose(mm.max(0), 1)
    rob = RobustScaler().fit(X)
    assert np.allclose(rob.center_, np.median(X, axis=0))
    assert np.abs(MaxAbsScaler().fit_transform(X)).max() == 1
    assert np.allclose(np.linalg.norm(Normalizer().fit_transform(X), axis=1), 1)
    qt = QuantileTransformer(n_quantiles=200, output_distribution="normal", random_state=0)
    assert abs(qt.fit_transform(X)[:, 1].mean()) < 0.05
    pt = PowerTransformer(method="box-cox").fit(X[:, [1]])
    assert abs(pt.lambdas_[0]) < 0.2, pt.lambdas_
    colours = np.array([["red", "S"], ["blue", "M"], ["green", "L"], ["red", "M"]], dtype=object)
    ohe = OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(colours)
    assert ohe.transform([["purple", "S"]]).sum() == 1
    assert list(ohe.get_feature_names_out(["colour", "size"]))[0] == "colour_blue"
    dropped = OneHotEncoder(drop="first", sparse_output=False).fit_transform(colours)
    assert dropped.shape == (4, 4)
    rare = np.array([["a"]] * 50 + [["b"]] * 40 + [["c"]] * 2 + [["d"]] * 1, dtype=object)
    grouped = OneHotEncoder(min_frequency=5, sparse_output=False).fit(rare)
    assert (
        grouped.transform(rare).shape[1] == 3
        and "x0_infrequent_sklearn" in grouped.get_feature_names_out()
    )
    ordinal = OrdinalEncoder(
        categories=[["red", "green", "blue"], ["S", "M", "L"]],
        handle_unknown="use_encoded_value",
        unknown_value=-1,
    )
    codes = ordinal.fit_transform(colours)
    assert codes[:, 1].tolist() == [0, 1, 2, 1] and ordinal.transform([["pink", "L"]])[0, 0] == -1
    le = LabelEncoder().fit(["cat", "dog", "cat", "bird"])
    assert list(le.classes_) == ["bird", "cat", "dog"] and le.inverse_transform([2])[0] == "dog"
    poly = PolynomialFeatures(degree=2, include_bias=False).fit(X[:, :2])
    assert poly.transform(X[:2, :2]).shape == (2, 5)
    assert list(poly.get_feature_names_out(["a", "b"])) == ["a", "b", "a^2", "a b", "b^2"]
    inter = PolynomialFeatures(degree=3, interaction_only=True).fit_transform(X)
    assert inter.shape[1] == 8
    spline = SplineTransformer(n_knots=5, degree=3).fit_transform(X[:, [2]])
    assert spline.shape == (1000, 7) and np.allclose(spline.sum(1), 1)
    kb = KBinsDiscretizer(n_bins=4, encode="ordinal", strategy="uniform").fit_transform(X[:, [2]])
    assert set(np.unique(kb)) == {0, 1, 2, 3}
    holes = X.copy()
    holes[rng.random(holes.shape) < 0.1] = np.nan
    for imputer in [
        SimpleImputer(strategy="mean"),
        SimpleImputer(strategy="constant", fill_value=0),
        KNNImputer(n_neighbors=5),
        IterativeImputer(max_iter=5, random_state=0),
    ]:
        out = imputer.fit_transform(holes)
        assert not np.isnan(out).any() and out.shape == X.shape, type(imputer).__name__
    flagged = SimpleImputer(add_indicator=True).fit_transform(holes)
    assert flagged.shape[1] == 6
    print(f"OK preprocessing boxcox_lambda={pt.lambdas_[0]:.3f} spline={spline.shape}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
