"""Model persistence and parallelism: joblib.dump/load of a fitted Pipeline (plain,
compressed, mmap_mode for arrays), pickle round trip, clone, joblib.Parallel with
delayed (threads and processes), joblib.Memory caching, and n_jobs in scikit-learn."""

import pickle
import sys
import tempfile
from pathlib import Path

import joblib
import numpy as np
from joblib import Memory, Parallel, delayed
from sklearn.base import clone
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def slow_square(x: float) -> float:
    return x * x


def main(workdir: Path) -> None:
    X, y = load_wine(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    expected = model.predict_proba(X)
    plain = workdir / "model.joblib"
    joblib.dump(model, plain)
    loaded = joblib.load(plain)
    assert np.allclose(loaded.predict_proba(X), expected)
    packed = workdir / "model.joblib.gz"
    joblib.dump(model, packed, compress=("gzip", 3))
    assert np.allclose(joblib.load(packed).predict_proba(X), expected)
    xz = workdir / "model.joblib.xz"
    joblib.dump(model, xz, compress=("xz", 3))
    assert np.allclose(joblib.load(xz).predict_proba(X), expected)
    big = np.random.default_rng(23).normal(size=(2000, 200))
    arr_path = workdir / "array.joblib"
    joblib.dump({"big": big, "meta": {"rows": 2000}}, arr_path)
    mapped = joblib.load(arr_path, mmap_mode="r")
    assert isinstance(mapped["big"], np.memmap) and np.allclose(mapped["big"], big)
    rf = RandomForestClassifier(n_estimators=50, random_state=0, n_jobs=2).fit(X, y)
    blob = pickle.dumps(rf, protocol=pickle.HIGHEST_PROTOCOL)
    assert np.array_equal(pickle.loads(blob).predict(X), rf.predict(X))
    fresh = clone(model)
    assert (
        not hasattr(fresh[-1], "coef_")
        and fresh.get_params()["logisticregression__max_iter"] == 1000
    )
    threads = Parallel(n_jobs=2, prefer="threads")(delayed(slow_square)(i) for i in range(20))
    procs = Parallel(n_jobs=2)(delayed(slow_square)(i) for i in range(20))
    assert threads == procs == [i * i for i in range(20)]
    with joblib.parallel_config(backend="threading", n_jobs=2):
        scores = cross_val_score(
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), X, y, cv=4, n_jobs=2
        )
    assert scores.mean() > 0.9
    memory = Memory(workdir / "cache", verbose=0)
    calls = []

    @memory.cache
    def column_means(data: np.ndarray) -> np.ndarray:
        calls.append(1)
        return data.mean(axis=0)

    first = column_means(big)
    second = column_means(big)
    assert np.array_equal(first, second) and len(calls) == 1
    cached = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000), memory=memory)
    assert cached.fit(X, y).score(X, y) > 0.95
    memory.clear(warn=False)
    print(
        f"OK joblib_persistence plain={plain.stat().st_size} gz={packed.stat().st_size} "
        f"xz={xz.stat().st_size} cv={scores.mean():.3f}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
