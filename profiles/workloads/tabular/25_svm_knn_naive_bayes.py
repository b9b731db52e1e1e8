"""Kernel and instance-based models plus naive Bayes: SVC (rbf, decision function, probabilities
through CalibratedClassifierCV), LinearSVC, SVR, NuSVC, KNeighborsClassifier/Regressor,
NearestNeighbors, RadiusNeighbors, GaussianNB, MultinomialNB, BernoulliNB, ComplementNB and
partial_fit."""

import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_digits, load_iris, make_moons, make_regression
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import BernoulliNB, ComplementNB, GaussianNB, MultinomialNB
from sklearn.neighbors import (
    KNeighborsClassifier,
    KNeighborsRegressor,
    NearestNeighbors,
    RadiusNeighborsClassifier,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR, LinearSVC, NuSVC


def main(workdir: Path) -> None:
    X, y = make_moons(n_samples=600, noise=0.2, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    rbf = SVC(kernel="rbf", C=3.0, gamma="scale").fit(X_train, y_train)
    linear = LinearSVC(C=1.0).fit(X_train, y_train)
    assert rbf.score(X_test, y_test) > linear.score(X_test, y_test) > 0.75
    assert rbf.decision_function(X_test).shape == (150,) and len(rbf.support_vectors_) < len(
        X_train
    )
    calibrated = CalibratedClassifierCV(SVC(kernel="rbf", C=3.0), ensemble=False, cv=3).fit(
        X_train, y_train
    )
    proba = calibrated.predict_proba(X_test)
    assert (
        proba.shape == (150, 2)
        and np.allclose(proba.sum(1), 1)
        and calibrated.score(X_test, y_test) > 0.9
    )
    assert NuSVC(nu=0.1).fit(X_train, y_train).score(X_test, y_test) > 0.9
    knn = KNeighborsClassifier(n_neighbors=7, weights="distance").fit(X_train, y_train)
    assert knn.score(X_test, y_test) > 0.9
    dist, idx = knn.kneighbors(X_test[:3], n_neighbors=4)
    assert dist.shape == (3, 4) and np.all(np.diff(dist, axis=1) >= 0)
    radius = RadiusNeighborsClassifier(radius=0.5, outlier_label="most_frequent").fit(
        X_train, y_train
    )
    assert radius.score(X_test, y_test) > 0.8
    nn = NearestNeighbors(n_neighbors=3, algorithm="ball_tree").fit(X)
    graph = nn.kneighbors_graph(X[:10], mode="distance")
    assert graph.shape == (10, 600) and graph.nnz == 30
    Xr, yr = make_regression(n_samples=400, n_features=4, noise=5, random_state=0)
    svr = make_pipeline(StandardScaler(), SVR(C=100, epsilon=1.0)).fit(Xr[:300], yr[:300])
    knr = KNeighborsRegressor(n_neighbors=5).fit(Xr[:300], yr[:300])
    assert svr.score(Xr[300:], yr[300:]) > 0.9 and knr.score(Xr[300:], yr[300:]) > 0.6
    Xi, yi = load_iris(return_X_y=True)
    gnb = GaussianNB().fit(Xi, yi)
    assert gnb.score(Xi, yi) > 0.94 and gnb.theta_.shape == (3, 4)
    online = GaussianNB()
    for chunk in np.array_split(np.random.default_rng(0).permutation(150), 5):
        online.partial_fit(Xi[chunk], yi[chunk], classes=[0, 1, 2])
    assert np.allclose(online.theta_, gnb.theta_)
    digits = load_digits()
    Xd_train, Xd_test, yd_train, yd_test = train_test_split(
        digits.data, digits.target, random_state=0
    )
    mnb = MultinomialNB(alpha=0.5).fit(Xd_train, yd_train)
    cnb = ComplementNB().fit(Xd_train, yd_train)
    bnb = BernoulliNB(binarize=4.0).fit(Xd_train, yd_train)
    svc_digits = SVC(gamma=0.001).fit(Xd_train, yd_train)
    scores = {
        "mnb": mnb.score(Xd_test, yd_test),
        "cnb": cnb.score(Xd_test, yd_test),
        "bnb": bnb.score(Xd_test, yd_test),
        "svc": svc_digits.score(Xd_test, yd_test),
    }
    assert scores["svc"] > 0.97 and min(scores.values()) > 0.7, scores
    assert np.allclose(np.exp(mnb.predict_log_proba(Xd_test[:5])), mnb.predict_proba(Xd_test[:5]))
    print(
        f"OK svm_knn_naive_bayes rbf={rbf.score(X_test, y_test):.3f} "
        f"digits={ {k: round(v, 3) for k, v in scores.items()} }"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
