"""scipy beyond stats: scipy.linalg (lu_factor/lu_solve, cho_factor, expm, svd, null_space),
hierarchical clustering (linkage, fcluster, cophenet), scipy.cluster.vq.kmeans2, and
scipy.ndimage filters, labels and center of mass on a small image."""

import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy import linalg, ndimage
from scipy.cluster.hierarchy import cophenet, fcluster, linkage
from scipy.cluster.vq import kmeans2
from scipy.spatial.distance import pdist


def main(workdir: Path) -> None:
    rng = np.random.default_rng(41)
    a = rng.normal(size=(6, 6)) + 6 * np.eye(6)
    b = rng.normal(size=6)
    x = linalg.lu_solve(linalg.lu_factor(a), b)
    assert np.allclose(a @ x, b)
    spd = a @ a.T
    assert np.allclose(spd @ linalg.cho_solve(linalg.cho_factor(spd), b), b)
    assert np.allclose(linalg.expm(np.zeros((3, 3))), np.eye(3))
    u, s, vt = linalg.svd(a)
    assert np.allclose(u @ np.diag(s) @ vt, a)
    assert linalg.null_space(np.array([[1.0, 1.0], [2.0, 2.0]])).shape == (2, 1)

    centers = np.array([[0, 0], [6, 6], [0, 6]])
    points = np.vstack([c + rng.normal(scale=0.7, size=(40, 2)) for c in centers])
    tree = linkage(points, method="ward")
    labels = fcluster(tree, t=3, criterion="maxclust")
    assert len(set(labels)) == 3
    corr, _ = cophenet(tree, pdist(points))
    assert corr > 0.7, corr
    _, km = kmeans2(points, 3, seed=41, minit="++")
    assert len(set(km)) == 3

    image = np.zeros((40, 40))
    image[5:12, 5:12] = 1
    image[25:35, 20:30] = 1
    noisy = image + rng.normal(scale=0.2, size=image.shape)
    smooth = ndimage.gaussian_filter(noisy, sigma=1.5)
    mask = smooth > 0.5
    labelled, count = ndimage.label(mask)
    assert count == 2, count
    centres = ndimage.center_of_mass(mask, labelled, [1, 2])
    assert abs(centres[0][0] - 8) < 1.5 and abs(centres[1][1] - 24.5) < 1.5, centres
    assert ndimage.median_filter(image, size=3).sum() <= image.sum()
    print(f"OK 41_scipy_linalg_cluster_ndimage cophenet={corr:.2f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
