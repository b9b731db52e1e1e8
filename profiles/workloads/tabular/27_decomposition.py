"""Dimensionality reduction: PCA (explained variance, n_components as a fraction, whiten,
inverse_transform), IncrementalPCA, TruncatedSVD on a sparse matrix, NMF, FactorAnalysis,
KernelPCA, LDA as a reducer, TSNE on a small sample, and PCA inside a classifier pipeline."""

import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.datasets import load_digits, load_iris
from sklearn.decomposition import NMF, PCA, FactorAnalysis, IncrementalPCA, KernelPCA, TruncatedSVD
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import TSNE
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main(workdir: Path) -> None:
    digits = load_digits()
    X, y = digits.data, digits.target
    pca = PCA().fit(X)
    ratio = pca.explained_variance_ratio_
    assert np.isclose(ratio.sum(), 1) and np.all(np.diff(ratio) <= 1e-12)
    k95 = int(np.searchsorted(np.cumsum(ratio), 0.95) + 1)
    frac = PCA(n_components=0.95, svd_solver="full").fit(X)
    assert frac.n_components_ == k95, (frac.n_components_, k95)
    small = PCA(n_components=10, random_state=0).fit(X)
    recon = small.inverse_transform(small.transform(X))
    err = np.mean((recon - X) ** 2)
    assert err < np.mean((X - X.mean(0)) ** 2), err
    white = PCA(n_components=5, whiten=True).fit_transform(X)
    assert np.allclose(white.std(0, ddof=1), 1, atol=1e-6)
    ipca = IncrementalPCA(n_components=10, batch_size=600).fit(X)
    assert np.allclose(np.abs(ipca.components_[0]), np.abs(small.components_[0]), atol=0.05)
    rng = np.random.default_rng(19)
    sp = sparse.random(2000, 500, density=0.01, format="csr", random_state=20)
    svd = TruncatedSVD(n_components=20, random_state=0).fit(sp)
    assert svd.transform(sp).shape == (2000, 20) and svd.explained_variance_ratio_.sum() < 1
    nmf = NMF(n_components=10, init="nndsvda", max_iter=200, tol=1e-3, random_state=0)
    W = nmf.fit_transform(X)
    assert (W >= 0).all() and (nmf.components_ >= 0).all() and nmf.reconstruction_err_ > 0
    fa = FactorAnalysis(n_components=5, svd_method="lapack").fit(X[:600, X.std(0) > 0])
    assert fa.components_.shape[0] == 5
    Xi, yi = load_iris(return_X_y=True)
    kp = KernelPCA(n_components=2, kernel="rbf", gamma=0.5).fit_transform(Xi)
    lda = LinearDiscriminantAnalysis(n_components=2).fit(Xi, yi)
    assert kp.shape == (150, 2) and lda.transform(Xi).shape == (150, 2) and lda.score(Xi, yi) > 0.95
    idx = rng.choice(len(X), 150, replace=False)
    emb = TSNE(
        n_components=2, perplexity=15, init="pca", max_iter=250, random_state=0
    ).fit_transform(X[idx])
    assert emb.shape == (150, 2) and np.isfinite(emb).all()
    model = make_pipeline(StandardScaler(), PCA(n_components=30), LogisticRegression(max_iter=2000))
    cv = cross_val_score(model, X, y, cv=3)
    assert cv.mean() > 0.9, cv
    print(f"OK decomposition k95={k95} recon_mse={err:.2f} pca_logreg_cv={cv.mean():.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
