"""scipy.sparse: building csr/csc/coo/lil/dok matrices and sparse arrays, diags and eye,
arithmetic, slicing and reductions, format conversions, save_npz/load_npz, and
sparse.linalg: spsolve on a 2-D Laplacian, cg, eigsh, svds, norm and splu; plus
connected_components from scipy.sparse.csgraph."""

import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph
from scipy.sparse import linalg as spla


def laplacian_2d(n: int) -> sparse.csr_matrix:
    one = sparse.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n))
    eye = sparse.eye(n)
    return (sparse.kron(one, eye) + sparse.kron(eye, one)).tocsr()


def main(workdir: Path) -> None:
    rng = np.random.default_rng(27)
    rows = rng.integers(0, 1000, 5000)
    cols = rng.integers(0, 800, 5000)
    vals = rng.normal(size=5000)
    coo = sparse.coo_matrix((vals, (rows, cols)), shape=(1000, 800))
    csr = coo.tocsr()
    csr.sum_duplicates()
    assert csr.nnz <= 5000 and np.isclose(csr.sum(), vals.sum())
    dense = csr.toarray()
    v = rng.normal(size=800)
    assert np.allclose(csr @ v, dense @ v)
    assert np.allclose((csr.T @ csr).toarray(), dense.T @ dense)
    assert np.allclose((csr * 2 + csr).toarray(), 3 * dense)
    assert np.allclose(csr.multiply(csr).sum(), (dense**2).sum())
    assert np.allclose(np.asarray(csr.sum(axis=0)).ravel(), dense.sum(0))
    assert np.allclose(csr[10:20, :].toarray(), dense[10:20]) and csr.getrow(5).shape == (1, 800)
    csc = csr.tocsc()
    assert np.allclose(csc[:, 3].toarray().ravel(), dense[:, 3])
    lil = sparse.lil_matrix((5, 5))
    lil[0, 1] = 3.0
    lil[4, 4] = 1.0
    dok = sparse.dok_matrix((5, 5))
    dok[2, 2] = 7.0
    assert (lil.tocsr() + dok.tocsr()).nnz == 3
    arr = sparse.csr_array(dense[:50, :50])
    assert (arr @ arr).shape == (50, 50) and isinstance(arr, sparse.sparray)
    stacked = sparse.vstack([csr, csr]).tocsr()
    side = sparse.hstack([csr, sparse.identity(1000, format="csr")]).tocsr()
    assert stacked.shape == (2000, 800) and side.shape == (1000, 1800)
    path = workdir / "m.npz"
    sparse.save_npz(path, csr)
    back = sparse.load_npz(path)
    assert (back != csr).nnz == 0
    A = laplacian_2d(40)
    b = np.ones(A.shape[0])
    x = spla.spsolve(A.tocsc(), b)
    assert np.allclose(A @ x, b)
    xcg, info = spla.cg(A, b, rtol=1e-10, maxiter=2000)
    assert info == 0 and np.allclose(xcg, x, atol=1e-6)
    lu = spla.splu(A.tocsc())
    assert np.allclose(lu.solve(b), x)
    vals_small = spla.eigsh(A, k=3, sigma=0, which="LM", return_eigenvectors=False)
    expected = 4 * np.sin(np.pi / (2 * 41)) ** 2 * 2
    assert np.isclose(vals_small.min(), expected), (vals_small, expected)
    u, s, vt = spla.svds(csr, k=5)
    assert np.allclose(np.sort(s), np.sort(np.linalg.svd(dense, compute_uv=False)[:5]))
    assert np.isclose(spla.norm(csr), np.linalg.norm(dense))
    graph = sparse.csr_matrix(([1, 1, 1], ([0, 1, 3], [1, 2, 4])), shape=(6, 6))
    n_comp, labels = csgraph.connected_components(graph, directed=False)
    assert n_comp == 3 and labels[0] == labels[2] != labels[3]
    dist = csgraph.shortest_path(graph, directed=False)
    assert dist[0, 2] == 2 and np.isinf(dist[0, 5])
    print(f"OK scipy_sparse nnz={csr.nnz} laplacian={A.shape} lambda_min={vals_small.min():.5f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
