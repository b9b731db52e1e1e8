"""Tensor geometry and pairwise ops: cdist, cosine_similarity, pairwise_distance, diff,
roll/flip/rot90, kron, cartesian_prod/combinations, tensordot, trapezoid, cummax/cummin,
a k-nearest-neighbour classifier built from them."""

import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F


def main(workdir: Path) -> None:
    torch.manual_seed(37)
    a, b = torch.randn(50, 3), torch.randn(40, 3)
    d = torch.cdist(a, b)
    manual = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1).sqrt()
    assert torch.allclose(d, manual, atol=1e-5)
    assert torch.allclose(torch.cdist(a, b, p=1), (a[:, None] - b[None]).abs().sum(-1), atol=1e-5)
    cos = F.cosine_similarity(a[:, None, :], b[None, :, :], dim=-1)
    assert cos.shape == (50, 40) and cos.abs().max() <= 1 + 1e-6
    assert torch.allclose(
        F.pairwise_distance(a[:40], b), (a[:40] - b + 1e-6).norm(dim=1), atol=1e-4
    )
    x = torch.arange(10.0)
    assert torch.diff(x).eq(1).all() and torch.diff(x, n=2).eq(0).all()
    assert torch.roll(x, 3)[:3].tolist() == [7.0, 8.0, 9.0]
    m = torch.arange(6).reshape(2, 3)
    assert torch.flip(m, [1]).tolist() == [[2, 1, 0], [5, 4, 3]]
    assert torch.rot90(m).tolist() == [[2, 5], [1, 4], [0, 3]]
    assert torch.kron(torch.eye(2), torch.ones(2, 2)).sum() == 8
    assert torch.cartesian_prod(torch.tensor([1, 2]), torch.tensor([3, 4])).shape == (4, 2)
    assert torch.combinations(torch.arange(5), r=2).shape == (10, 2)
    t = torch.tensordot(torch.randn(3, 4, 5), torch.randn(4, 5, 6), dims=([1, 2], [0, 1]))
    assert t.shape == (3, 6)
    xs = torch.linspace(0, torch.pi, 1001)
    assert abs(torch.trapezoid(torch.sin(xs), xs).item() - 2.0) < 1e-5
    values, indices = torch.cummax(torch.tensor([1, 3, 2, 5, 4]), dim=0)
    assert values.tolist() == [1, 3, 3, 5, 5] and indices.tolist() == [0, 1, 1, 3, 3]
    assert torch.cummin(torch.tensor([5, 3, 4, 1]), dim=0).values.tolist() == [5, 3, 3, 1]

    centers = torch.tensor([[0.0, 0.0], [5.0, 5.0], [0.0, 5.0]])
    labels = torch.randint(0, 3, (300,))
    points = centers[labels] + 0.8 * torch.randn(300, 2)
    train, test = slice(0, 200), slice(200, 300)
    nearest = torch.cdist(points[test], points[train]).topk(5, largest=False).indices
    votes = labels[train][nearest]
    predicted = torch.mode(votes, dim=1).values
    accuracy = (predicted == labels[test]).float().mean().item()
    assert accuracy > 0.9, accuracy
    print(f"OK 37_tensor_geometry knn_accuracy={accuracy:.2f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
