"""torch.linalg: solve, inv, det/slogdet, cholesky, qr, eigh, eig, svd/svdvals, lstsq, pinv,
matrix_rank, norms, matrix_exp, cond, batched inputs, and gradients through a linear solve,
each checked by reconstruction on float64 matrices."""

import sys
import tempfile
from pathlib import Path

import torch


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    A = torch.randn(6, 6, dtype=torch.float64)
    spd = A @ A.T + 6 * torch.eye(6, dtype=torch.float64)
    b = torch.randn(6, 2, dtype=torch.float64)
    identity = torch.eye(6, dtype=torch.float64)

    x = torch.linalg.solve(A, b)
    assert torch.allclose(A @ x, b)
    assert torch.allclose(torch.linalg.inv(A) @ A, identity)
    sign, logabsdet = torch.linalg.slogdet(A)
    assert torch.allclose(sign * logabsdet.exp(), torch.linalg.det(A))
    L = torch.linalg.cholesky(spd)
    assert torch.allclose(L @ L.T, spd) and torch.equal(L, L.tril())
    assert torch.allclose(torch.cholesky_solve(b, L), torch.linalg.solve(spd, b))
    Q, R = torch.linalg.qr(A)
    assert torch.allclose(Q @ R, A) and torch.allclose(Q.T @ Q, identity)
    LU, pivots = torch.linalg.lu_factor(A)
    assert torch.allclose(torch.linalg.lu_solve(LU, pivots, b), x)

    eigenvalues, eigenvectors = torch.linalg.eigh(spd)
    assert (eigenvalues > 0).all() and (eigenvalues[1:] >= eigenvalues[:-1]).all()
    assert torch.allclose(eigenvectors @ torch.diag(eigenvalues) @ eigenvectors.T, spd)
    w, V = torch.linalg.eig(A)
    assert w.dtype == torch.complex128
    assert torch.allclose(A.to(torch.complex128) @ V, V * w)
    assert torch.allclose(torch.prod(w).real, torch.linalg.det(A))

    tall = torch.randn(8, 5, dtype=torch.float64)
    U, S, Vh = torch.linalg.svd(tall, full_matrices=False)
    assert torch.allclose(U @ torch.diag(S) @ Vh, tall)
    assert torch.allclose(torch.linalg.svdvals(tall), S)
    assert torch.allclose(torch.linalg.norm(tall, ord=2), S[0])
    assert torch.allclose(torch.linalg.matrix_norm(tall), S.pow(2).sum().sqrt())  # Frobenius
    assert torch.allclose(torch.linalg.cond(tall), S[0] / S[-1])
    low_rank = tall[:, :2] @ torch.randn(2, 5, dtype=torch.float64)
    assert torch.linalg.matrix_rank(low_rank).item() == 2
    pinv = torch.linalg.pinv(low_rank)
    assert torch.allclose(low_rank @ pinv @ low_rank, low_rank)

    targets = tall @ torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0], dtype=torch.float64)
    fit = torch.linalg.lstsq(tall, targets[:, None]).solution.flatten()
    assert torch.allclose(fit, torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0], dtype=torch.float64))
    assert torch.allclose(torch.linalg.vector_norm(b, ord=1, dim=0), b.abs().sum(0))
    assert torch.allclose(torch.linalg.matrix_power(A, 3), A @ A @ A)
    rotation = torch.linalg.matrix_exp(
        torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64) * torch.pi / 2
    )
    assert torch.allclose(
        rotation, torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64), atol=1e-12
    )
    assert torch.allclose(torch.linalg.cross(identity[0, :3], identity[1, :3]), identity[2, :3])

    batch = torch.randn(4, 3, 3, dtype=torch.float64) + 3 * torch.eye(3, dtype=torch.float64)
    rhs = torch.randn(4, 3, dtype=torch.float64)
    solved = torch.linalg.solve(batch, rhs)
    assert torch.allclose((batch @ solved[..., None]).squeeze(-1), rhs)
    assert torch.linalg.det(batch).shape == (4,)

    M = spd.clone().requires_grad_()
    torch.linalg.solve(M, b).sum().backward()
    assert torch.autograd.gradcheck(
        lambda m: torch.linalg.solve(m, b), (M.detach().clone().requires_grad_(),)
    )
    assert M.grad.shape == (6, 6) and torch.isfinite(M.grad).all()
    print(
        f"OK 21_linalg cond={torch.linalg.cond(tall).item():.3f}"
        f" det={torch.linalg.det(A).item():.3f}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
