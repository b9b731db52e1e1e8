"""The bundled scikit-learn datasets and generators: load_iris, load_wine,
load_breast_cancer, load_digits, load_diabetes (as Bunch and as_frame=True), return_X_y,
and make_classification / make_regression / make_blobs / make_moons / make_circles."""

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import datasets


def main(workdir: Path) -> None:
    iris = datasets.load_iris()
    assert iris.data.shape == (150, 4) and list(iris.target_names) == [
        "setosa",
        "versicolor",
        "virginica",
    ]
    assert "sepal length (cm)" in iris.feature_names and "Iris" in iris.DESCR
    frame = datasets.load_iris(as_frame=True).frame
    assert isinstance(frame, pd.DataFrame) and frame.shape == (150, 5)
    assert frame.groupby("target").size().tolist() == [50, 50, 50]
    X, y = datasets.load_wine(return_X_y=True)
    assert X.shape == (178, 13) and len(np.unique(y)) == 3
    cancer = datasets.load_breast_cancer(as_frame=True)
    assert cancer.data.shape == (569, 30) and cancer.target.sum() == 357
    digits = datasets.load_digits()
    assert digits.images.shape == (1797, 8, 8) and digits.data.max() == 16
    assert np.array_equal(digits.images.reshape(1797, -1), digits.data)
    Xd, yd = datasets.load_diabetes(return_X_y=True, as_frame=True)
    assert Xd.shape == (442, 10) and isinstance(yd, pd.Series)
    raw = datasets.load_diabetes(scaled=False)
    assert raw.data[:, 0].max() > 1
    Xc, yc = datasets.make_classification(
        n_samples=500,
        n_features=10,
        n_informative=4,
        n_redundant=2,
        n_classes=3,
        weights=[0.6, 0.3, 0.1],
        random_state=0,
    )
    assert Xc.shape == (500, 10) and np.bincount(yc)[0] > np.bincount(yc)[2]
    Xr, yr, coef = datasets.make_regression(
        n_samples=300, n_features=5, n_informative=3, noise=1.0, coef=True, random_state=0
    )
    assert (coef != 0).sum() == 3 and np.corrcoef(Xr @ coef, yr)[0, 1] > 0.99
    Xb, yb, centers = datasets.make_blobs(
        n_samples=600, centers=4, cluster_std=0.5, return_centers=True, random_state=0
    )
    assert centers.shape == (4, 2) and len(np.unique(yb)) == 4
    Xm, ym = datasets.make_moons(n_samples=200, noise=0.05, random_state=0)
    Xo, yo = datasets.make_circles(n_samples=200, factor=0.4, noise=0.02, random_state=0)
    radius = np.hypot(*Xo.T)
    assert radius[yo == 1].mean() < radius[yo == 0].mean() and Xm.shape == (200, 2)
    Xs, _ = datasets.make_swiss_roll(n_samples=100, random_state=0)
    low_rank = datasets.make_low_rank_matrix(50, 40, effective_rank=5, random_state=0)
    assert Xs.shape == (100, 3) and low_rank.shape == (50, 40)
    spd = datasets.make_spd_matrix(5, random_state=0)
    assert np.all(np.linalg.eigvalsh(spd) > 0)
    print(
        f"OK sklearn_datasets iris={iris.data.shape} digits={digits.data.shape} diabetes={Xd.shape}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
