"""scipy.spatial and scipy.cluster: cKDTree/KDTree (query, k nearest, query_ball_point,
query_pairs, sparse_distance_matrix), distance (cdist, pdist, squareform, several metrics),
ConvexHull, Delaunay with find_simplex, Voronoi, Rotation from spatial.transform, and
hierarchical clustering (linkage, fcluster, dendrogram without plotting)."""

import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.cluster import hierarchy
from scipy.cluster.vq import kmeans2, whiten
from scipy.spatial import ConvexHull, Delaunay, KDTree, Voronoi, cKDTree, distance
from scipy.spatial.transform import Rotation


def main(workdir: Path) -> None:
    rng = np.random.default_rng(29)
    pts = rng.random((5000, 2))
    tree = cKDTree(pts)
    queries = rng.random((100, 2))
    d, i = tree.query(queries, k=3)
    brute = distance.cdist(queries, pts)
    assert np.allclose(d[:, 0], brute.min(1)) and np.array_equal(i[:, 0], brute.argmin(1))
    assert np.all(np.diff(d, axis=1) >= 0)
    near = tree.query_ball_point([0.5, 0.5], r=0.05)
    assert len(near) == (np.hypot(*(pts - 0.5).T) <= 0.05).sum()
    small = cKDTree(pts[:500])
    pairs = small.query_pairs(r=0.02)
    assert all(np.linalg.norm(pts[a] - pts[b]) <= 0.02 for a, b in pairs)
    sdm = small.sparse_distance_matrix(small, max_distance=0.05)
    assert sdm.shape == (500, 500)
    kd = KDTree(pts)
    assert np.allclose(kd.query(queries)[0], d[:, 0])
    a = rng.normal(size=(30, 4))
    b = rng.normal(size=(20, 4))
    assert np.allclose(distance.cdist(a, b), np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)))
    for metric in ["cityblock", "cosine", "chebyshev", "correlation", "minkowski"]:
        assert distance.cdist(a, b, metric=metric).shape == (30, 20)
    condensed = distance.pdist(a)
    square = distance.squareform(condensed)
    assert (
        condensed.shape == (30 * 29 // 2,)
        and np.allclose(square, square.T)
        and np.allclose(np.diag(square), 0)
    )
    assert (
        np.isclose(distance.euclidean([0, 0], [3, 4]), 5)
        and distance.hamming([1, 0, 1], [1, 1, 1]) == 1 / 3
    )
    assert np.isclose(distance.cosine([1, 0], [0, 1]), 1)
    cov_inv = np.linalg.inv(np.cov(a.T))
    assert distance.mahalanobis(a[0], a[1], cov_inv) > 0
    hull = ConvexHull(pts)
    assert 0.97 < hull.volume <= 1 and len(hull.vertices) >= 4
    square_pts = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0.5, 0.5]])
    tri = Delaunay(square_pts)
    assert len(tri.simplices) == 4 and tri.find_simplex([[0.2, 0.1], [2, 2]]).tolist()[1] == -1
    vor = Voronoi(rng.random((30, 2)))
    assert len(vor.point_region) == 30
    rot = Rotation.from_euler("z", 90, degrees=True)
    assert np.allclose(rot.apply([1, 0, 0]), [0, 1, 0])
    assert np.allclose((rot * rot.inv()).as_matrix(), np.eye(3))
    assert np.allclose(Rotation.from_quat(rot.as_quat()).as_rotvec(), [0, 0, np.pi / 2])
    centres = np.array([[0, 0], [5, 5], [0, 5]])
    blobs = np.vstack([c + rng.normal(0, 0.5, (100, 2)) for c in centres])
    Z = hierarchy.linkage(blobs, method="ward")
    labels = hierarchy.fcluster(Z, t=3, criterion="maxclust")
    assert len(np.unique(labels)) == 3 and all(
        len(np.unique(labels[k * 100 : (k + 1) * 100])) == 1 for k in range(3)
    )
    dn = hierarchy.dendrogram(Z, no_plot=True, truncate_mode="lastp", p=5)
    assert len(dn["ivl"]) == 5
    coph, _ = hierarchy.cophenet(Z, distance.pdist(blobs))
    assert coph > 0.7
    centroid, lab = kmeans2(whiten(blobs), 3, seed=0, minit="++")
    assert len(np.unique(lab)) == 3
    print(f"OK scipy_spatial hull_area={hull.volume:.4f} pairs={len(pairs)} cophenet={coph:.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
