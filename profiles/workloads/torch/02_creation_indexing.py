"""Tensor creation ops (zeros/ones/full/arange/linspace/eye/*_like/rand*) and indexing:
basic and advanced indexing, boolean masks, gather/scatter, index_select/index_add, views,
reshape/permute, cat/stack/split/chunk, in-place assignment through slices."""

import sys
import tempfile
from pathlib import Path

import torch


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    assert torch.zeros(2, 3).sum() == 0 and torch.ones(2, 3).sum() == 6
    assert torch.full((2, 2), 7.0).tolist() == [[7.0, 7.0], [7.0, 7.0]]
    assert torch.eye(3).trace() == 3
    assert torch.arange(0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert torch.allclose(torch.linspace(0, 1, 5), torch.tensor([0, 0.25, 0.5, 0.75, 1.0]))
    assert torch.allclose(torch.logspace(0, 2, 3), torch.tensor([1.0, 10.0, 100.0]))
    assert torch.empty(3).fill_(2).tolist() == [2.0, 2.0, 2.0]
    base = torch.randn(4, 5, dtype=torch.float64)
    for like in (
        torch.zeros_like(base),
        torch.ones_like(base),
        torch.rand_like(base),
        torch.randn_like(base),
        torch.empty_like(base),
    ):
        assert like.shape == base.shape and like.dtype == torch.float64
    ints = torch.randint(3, 9, (1000,))
    assert ints.min() >= 3 and ints.max() < 9 and ints.dtype == torch.int64
    assert torch.as_tensor([1, 2, 3]).dtype == torch.int64
    assert torch.tensor([[1, 2], [3, 4]]).shape == (2, 2)
    assert torch.diag(torch.tensor([1, 2, 3])).sum() == 6
    rows, cols = torch.tril_indices(3, 3)
    assert len(rows) == 6 and (rows >= cols).all()
    grid_y, grid_x = torch.meshgrid(torch.arange(2), torch.arange(3), indexing="ij")
    assert grid_y.shape == (2, 3) and grid_x[1].tolist() == [0, 1, 2]

    x = torch.arange(24).reshape(2, 3, 4)
    assert x[1, 2, 3].item() == 23
    assert x[:, -1].tolist() == [[8, 9, 10, 11], [20, 21, 22, 23]]
    assert x[..., ::2].shape == (2, 3, 2)
    assert x[None].shape == (1, 2, 3, 4) and x[:, None, :, None].shape == (2, 1, 3, 1, 4)
    assert x[x % 5 == 0].tolist() == [0, 5, 10, 15, 20]
    assert x[0, torch.tensor([2, 0])].tolist() == [[8, 9, 10, 11], [0, 1, 2, 3]]
    assert x[torch.tensor([0, 1]), torch.tensor([1, 2]), torch.tensor([3, 0])].tolist() == [7, 20]
    assert torch.nonzero(torch.tensor([0, 3, 0, 5])).flatten().tolist() == [1, 3]
    assert torch.argwhere(torch.eye(2)).tolist() == [[0, 0], [1, 1]]

    m = torch.arange(12.0).reshape(3, 4)
    gathered = torch.gather(m, 1, torch.tensor([[0], [3], [1]]))
    assert gathered.flatten().tolist() == [0.0, 7.0, 9.0]
    scattered = torch.zeros(3, 4).scatter_(1, torch.tensor([[1], [2], [3]]), 1.0)
    assert scattered.sum() == 3 and scattered[2, 3] == 1
    assert torch.index_select(m, 0, torch.tensor([2, 0]))[0, 0] == 8
    summed = torch.zeros(2).index_add_(0, torch.tensor([0, 1, 0]), torch.tensor([1.0, 2.0, 3.0]))
    assert summed.tolist() == [4.0, 2.0]
    assert torch.zeros(3).scatter_add_(0, torch.tensor([0, 0, 2]), torch.ones(3)).tolist() == [
        2,
        0,
        1,
    ]

    view = m.view(4, 3)
    view[0, 0] = 100.0
    assert m[0, 0] == 100.0  # views share storage
    t = m.t()
    assert not t.is_contiguous() and t.contiguous().is_contiguous()
    assert t.reshape(-1).shape == (12,)
    p = torch.randn(2, 3, 4).permute(2, 0, 1)
    assert p.shape == (4, 2, 3)
    assert torch.randn(1, 3, 1).squeeze().shape == (3,)
    assert torch.randn(3).unsqueeze(0).unsqueeze(-1).shape == (1, 3, 1)
    assert torch.randn(2, 3, 4).flatten(1).shape == (2, 12)
    assert torch.randn(2, 12).unflatten(1, (3, 4)).shape == (2, 3, 4)
    assert torch.tensor([1, 2]).repeat(2, 2).shape == (2, 4)
    assert torch.tensor([[1], [2]]).expand(2, 3).tolist() == [[1, 1, 1], [2, 2, 2]]
    assert torch.tile(torch.tensor([1, 2]), (2,)).tolist() == [1, 2, 1, 2]
    assert torch.flip(torch.arange(4), [0]).tolist() == [3, 2, 1, 0]
    assert torch.roll(torch.arange(4), 1).tolist() == [3, 0, 1, 2]

    a, b = torch.ones(2, 3), torch.zeros(2, 3)
    assert torch.cat([a, b]).shape == (4, 3) and torch.cat([a, b], dim=1).shape == (2, 6)
    assert torch.stack([a, b]).shape == (2, 2, 3) and torch.stack([a, b], -1).shape == (2, 3, 2)
    pieces = torch.arange(10).split([3, 7])
    assert [len(piece) for piece in pieces] == [3, 7]
    assert [len(piece) for piece in torch.arange(10).chunk(3)] == [4, 4, 2]
    assert [u.tolist() for u in torch.arange(6).reshape(2, 3).unbind(1)] == [[0, 3], [1, 4], [2, 5]]

    board = torch.zeros(4, 4)
    board[1:3, 1:3] = 1.0
    board[board == 0] = -1.0
    board[:, 0] += 10
    assert board.sum().item() == 4 - 12 + 40
    cloned = board.clone()
    cloned[0, 0] = 0
    assert board[0, 0] == 9.0
    print(f"OK 02_creation_indexing board_sum={board.sum().item():.0f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
