"""numpy.linalg: solve, inv, det, eig/eigh, svd with a low-rank reconstruction, qr,
cholesky, lstsq for a regression, pinv, matrix_rank, norm, matrix_power and cond."""

import sys
import tempfile
from pathlib import Path

import numpy as np


def main(workdir: Path) -> None:
    rng = np.random.default_rng(12)
    a = rng.normal(size=(200, 200))
    b = rng.normal(size=200)
    x = np.linalg.solve(a, b)
    assert np.allclose(a @ x, b)
    inv = np.linalg.inv(a)
    assert np.allclose(inv @ a, np.eye(200), atol=1e-8)
    sign, logdet = np.linalg.slogdet(a)
    assert np.isclose(sign * np.exp(logdet), np.linalg.det(a), rtol=1e-6)
    spd = a @ a.T + 200 * np.eye(200)
    w, v = np.linalg.eigh(spd)
    assert (w > 0).all() and np.allclose(spd @ v[:, -1], w[-1] * v[:, -1])
    gw, gv = np.linalg.eig(a[:50, :50])
    assert np.allclose(a[:50, :50] @ gv[:, 0], gw[0] * gv[:, 0])
    low = rng.normal(size=(300, 5)) @ rng.normal(size=(5, 80))
    u, s, vt = np.linalg.svd(low, full_matrices=False)
    assert (s[5:] < 1e-8 * s[0]).all() and np.linalg.matrix_rank(low) == 5
    recon = (u[:, :5] * s[:5]) @ vt[:5]
    assert np.allclose(recon, low)
    q, r = np.linalg.qr(a)
    assert np.allclose(q @ r, a) and np.allclose(np.triu(r), r)
    chol = np.linalg.cholesky(spd)
    assert np.allclose(chol @ chol.T, spd)
    design = np.column_stack([np.ones(500), rng.normal(size=(500, 3))])
    beta = np.array([1.0, -2.0, 0.5, 3.0])
    target = design @ beta + rng.normal(0, 0.01, 500)
    coef, resid, rank, sv = np.linalg.lstsq(design, target, rcond=None)
    assert np.allclose(coef, beta, atol=0.01) and rank == 4
    assert np.allclose(np.linalg.pinv(design) @ target, coef)
    assert np.isclose(np.linalg.norm(b), np.sqrt((b**2).sum()))
    assert np.isclose(np.linalg.norm(a, "fro"), np.sqrt((a**2).sum()))
    assert np.isclose(np.linalg.norm(a, 2), np.linalg.svd(a, compute_uv=False)[0])
    rot = np.array([[0.0, -1.0], [1.0, 0.0]])
    assert np.allclose(np.linalg.matrix_power(rot, 4), np.eye(2))
    assert np.linalg.cond(spd) < np.linalg.cond(a)
    batch = rng.normal(size=(10, 3, 3)) + 3 * np.eye(3)
    rhs = rng.normal(size=(10, 3, 1))
    sol = np.linalg.solve(batch, rhs)
    assert np.allclose(batch @ sol, rhs)
    assert np.allclose(np.linalg.multi_dot([a, inv, a]), a)
    print(f"OK numpy_linalg cond={np.linalg.cond(a):.1f} rank={np.linalg.matrix_rank(low)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
