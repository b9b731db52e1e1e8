"""Elementwise math, broadcasting and reductions: arithmetic, exp/log/trig, clamp, where,
sum/mean/std/var/prod/amax along dims with keepdim, cumsum/cumprod, logsumexp, matmul/bmm/
outer, allclose/isclose, and in-place ops."""

import math
import sys
import tempfile
from pathlib import Path

import torch


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    x = torch.randn(64, 32, dtype=torch.float64)
    y = torch.randn(32, dtype=torch.float64)
    assert (x + y).shape == (64, 32)  # broadcasting over rows
    assert torch.allclose((x - y)[:, 3], x[:, 3] - y[3])
    assert torch.allclose(x * 2 / 2, x) and torch.allclose(x**2, x * x)
    assert torch.allclose(torch.exp(torch.log(x.abs() + 1)), x.abs() + 1)
    assert torch.allclose(torch.sin(x) ** 2 + torch.cos(x) ** 2, torch.ones_like(x))
    assert torch.allclose(torch.sqrt(x.abs()) ** 2, x.abs())
    assert torch.allclose(torch.sigmoid(x), 1 / (1 + torch.exp(-x)))
    assert torch.allclose(torch.tanh(x), torch.sinh(x) / torch.cosh(x))
    assert torch.equal(torch.sign(x) * x.abs(), x)
    assert torch.allclose(torch.fmod(torch.tensor([-7.0]), 3), torch.tensor([-1.0]))
    assert torch.allclose(torch.remainder(torch.tensor([-7.0]), 3), torch.tensor([2.0]))
    clamped = x.clamp(-0.5, 0.5)
    assert clamped.max() <= 0.5 and clamped.min() >= -0.5
    assert torch.equal(torch.where(x > 0, x, torch.zeros_like(x)), torch.relu(x))
    assert torch.equal(torch.maximum(x, -x), x.abs())
    assert torch.lerp(torch.tensor([0.0]), torch.tensor([10.0]), 0.3).item() == 3.0

    # reductions
    assert math.isclose(x.sum().item(), x.sum(dim=0).sum().item(), rel_tol=1e-9)
    assert x.mean(dim=1, keepdim=True).shape == (64, 1)
    assert torch.allclose(x.var(dim=0), ((x - x.mean(0)) ** 2).sum(0) / (len(x) - 1))
    assert torch.allclose(x.var(dim=0, unbiased=False), ((x - x.mean(0)) ** 2).mean(0))
    assert torch.allclose(x.std(dim=0) ** 2, x.var(dim=0))
    std, mean = torch.std_mean(x, dim=0)
    assert torch.allclose(mean, x.mean(0)) and torch.allclose(std, x.std(0))
    values, indices = x.max(dim=1)
    assert torch.equal(x[torch.arange(64), indices], values)
    assert torch.equal(x.amax(dim=(0, 1)), x.max())
    assert torch.equal(x.argmin(dim=0), (-x).argmax(dim=0))
    assert torch.tensor([1.0, 2.0, 3.0, 4.0]).prod() == 24
    assert torch.arange(1, 5).cumsum(0).tolist() == [1, 3, 6, 10]
    assert torch.arange(1, 5).cumprod(0).tolist() == [1, 2, 6, 24]
    assert torch.allclose(torch.logsumexp(x, dim=1), torch.log(torch.exp(x).sum(1)))
    assert x.abs().sum() >= x.sum().abs()
    assert torch.tensor([True, False]).any() and not torch.tensor([True, False]).all()
    assert torch.count_nonzero(torch.tensor([0, 1, 2, 0])) == 2
    assert math.isclose(torch.linalg.vector_norm(torch.tensor([3.0, 4.0])).item(), 5.0)
    assert torch.allclose(torch.norm(x, dim=1), x.pow(2).sum(1).sqrt())
    assert math.isclose(torch.dist(torch.zeros(2), torch.tensor([3.0, 4.0])).item(), 5.0)
    assert torch.allclose(torch.diff(torch.tensor([1.0, 4.0, 9.0])), torch.tensor([3.0, 5.0]))

    # products
    a, b = torch.randn(8, 5), torch.randn(5, 3)
    assert torch.allclose(a @ b, torch.matmul(a, b)) and torch.allclose(a @ b, torch.mm(a, b))
    manual = torch.stack(
        [torch.stack([(a[i] * b[:, j]).sum() for j in range(3)]) for i in range(8)]
    )
    assert torch.allclose(a @ b, manual, atol=1e-5)
    batch_a, batch_b = torch.randn(4, 8, 5), torch.randn(4, 5, 3)
    assert torch.allclose(torch.bmm(batch_a, batch_b), batch_a @ batch_b, atol=1e-6)
    assert (torch.randn(2, 1, 8, 5) @ torch.randn(3, 5, 2)).shape == (2, 3, 8, 2)
    assert torch.outer(torch.arange(3), torch.arange(2)).tolist() == [[0, 0], [0, 1], [0, 2]]
    assert torch.dot(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])) == 11
    assert torch.allclose(torch.addmm(torch.ones(8, 3), a, b), a @ b + 1, atol=1e-6)
    assert torch.allclose(
        torch.cross(torch.tensor([1.0, 0, 0]), torch.tensor([0, 1.0, 0]), dim=0),
        torch.tensor([0, 0, 1.0]),
    )

    # in-place
    acc = torch.zeros(3)
    acc.add_(1).mul_(3).sub_(torch.tensor([0.0, 1.0, 2.0])).div_(2)
    assert acc.tolist() == [1.5, 1.0, 0.5]
    acc.clamp_(max=1.0).neg_()
    assert acc.tolist() == [-1.0, -1.0, -0.5]
    assert torch.isclose(torch.tensor(1.0), torch.tensor(1.0 + 1e-9))
    assert not torch.isfinite(torch.tensor([1.0, float("nan")])).all()
    print(f"OK 04_math_reductions total={x.sum().item():.4f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
