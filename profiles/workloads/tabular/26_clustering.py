"""Clustering: KMeans (inertia elbow, predict, k-means++ init), MiniBatchKMeans, DBSCAN with
noise points, AgglomerativeClustering (ward, single linkage), GaussianMixture (BIC),
SpectralClustering on moons, and silhouette / adjusted_rand / calinski_harabasz scores."""

import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.cluster import (
    DBSCAN,
    AgglomerativeClustering,
    KMeans,
    MiniBatchKMeans,
    SpectralClustering,
)
from sklearn.datasets import make_blobs, make_moons
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_samples,
    silhouette_score,
)
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler


def main(workdir: Path) -> None:
    X, y = make_blobs(n_samples=1500, centers=4, cluster_std=0.6, random_state=0)
    X = StandardScaler().fit_transform(X)
    inertias = [KMeans(n_clusters=k, n_init=2, random_state=0).fit(X).inertia_ for k in range(1, 7)]
    assert all(np.diff(inertias) < 0)
    sil = {
        k: silhouette_score(X, KMeans(n_clusters=k, n_init=2, random_state=0).fit_predict(X))
        for k in range(2, 7)
    }
    best_k = max(sil, key=sil.get)
    assert best_k == 4, sil
    km = KMeans(n_clusters=4, n_init=4, random_state=0).fit(X)
    assert adjusted_rand_score(y, km.labels_) > 0.95
    assert np.array_equal(km.predict(X[:10]), km.labels_[:10]) and km.cluster_centers_.shape == (
        4,
        2,
    )
    assert km.transform(X[:5]).shape == (5, 4)
    mb = MiniBatchKMeans(n_clusters=4, batch_size=256, n_init=3, random_state=0).fit(X)
    assert adjusted_rand_score(y, mb.labels_) > 0.9
    assert calinski_harabasz_score(X, km.labels_) > 1000 and davies_bouldin_score(X, km.labels_) < 1
    assert silhouette_samples(X, km.labels_).shape == (1500,)
    Xm, ym = make_moons(n_samples=500, noise=0.05, random_state=0)
    db = DBSCAN(eps=0.2, min_samples=5).fit(Xm)
    labels = db.labels_
    n_clusters = len(set(labels) - {-1})
    assert n_clusters == 2 and adjusted_rand_score(ym, labels) > 0.95, (
        n_clusters,
        (labels == -1).sum(),
    )
    noisy = np.vstack([Xm, [[5.0, 5.0], [-4.0, 4.0]]])
    assert (DBSCAN(eps=0.2, min_samples=5).fit_predict(noisy)[-2:] == -1).all()
    assert adjusted_rand_score(ym, KMeans(2, n_init=4, random_state=0).fit_predict(Xm)) < 0.6
    ward = AgglomerativeClustering(n_clusters=4, linkage="ward").fit(X)
    assert adjusted_rand_score(y, ward.labels_) > 0.9
    single = AgglomerativeClustering(n_clusters=2, linkage="single").fit(Xm)
    assert adjusted_rand_score(ym, single.labels_) > 0.95
    spectral = SpectralClustering(
        n_clusters=2, affinity="nearest_neighbors", n_neighbors=30, random_state=0
    ).fit(Xm)
    assert adjusted_rand_score(ym, spectral.labels_) > 0.95
    bics = {k: GaussianMixture(n_components=k, random_state=0).fit(X).bic(X) for k in range(1, 7)}
    assert min(bics, key=bics.get) == 4, bics
    gm = GaussianMixture(n_components=4, random_state=0).fit(X)
    resp = gm.predict_proba(X[:5])
    assert np.allclose(resp.sum(1), 1) and gm.converged_
    print(
        f"OK clustering best_k={best_k} dbscan_clusters={n_clusters} "
        f"ari={adjusted_rand_score(y, km.labels_):.3f}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
