"""einsum (matmul, batched, trace, outer, attention-style contractions) and masked operations:
masked_fill, masked_select, masked_scatter, triangular masks, where, nan-aware reductions,
and masked means over padded sequences."""

import sys
import tempfile
from pathlib import Path

import torch


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    a, b = torch.randn(6, 4), torch.randn(4, 5)
    assert torch.allclose(torch.einsum("ij,jk->ik", a, b), a @ b, atol=1e-6)
    assert torch.allclose(torch.einsum("ij->ji", a), a.t())
    assert torch.allclose(torch.einsum("ij->", a), a.sum())
    square = torch.randn(5, 5)
    assert torch.allclose(torch.einsum("ii->", square), square.trace())
    assert torch.allclose(torch.einsum("ii->i", square), square.diagonal())
    u, v = torch.randn(3), torch.randn(4)
    assert torch.allclose(torch.einsum("i,j->ij", u, v), torch.outer(u, v))
    batch_x, batch_y = torch.randn(2, 3, 4), torch.randn(2, 4, 5)
    assert torch.allclose(
        torch.einsum("bij,bjk->bik", batch_x, batch_y), batch_x @ batch_y, atol=1e-6
    )
    q, k = torch.randn(2, 4, 7, 8), torch.randn(2, 4, 9, 8)  # batch, heads, seq, dim
    scores = torch.einsum("bhqd,bhkd->bhqk", q, k)
    assert torch.allclose(scores, q @ k.transpose(-1, -2), atol=1e-5)
    assert torch.allclose(torch.einsum("...d,...d->...", q, q), (q * q).sum(-1), atol=1e-5)
    bilinear = torch.einsum(
        "bi,oij,bj->bo", torch.randn(3, 4), torch.randn(2, 4, 5), torch.randn(3, 5)
    )
    assert bilinear.shape == (3, 2)

    # masks
    seq = 6
    causal = torch.triu(torch.ones(seq, seq, dtype=torch.bool), diagonal=1)
    logits = torch.randn(seq, seq).masked_fill(causal, float("-inf"))
    probs = logits.softmax(dim=-1)
    assert torch.allclose(probs.sum(-1), torch.ones(seq))
    assert (probs[causal] == 0).all() and probs[0, 0] == 1
    assert torch.equal(
        torch.tril(torch.ones(3, 3)), (~torch.triu(torch.ones(3, 3, dtype=torch.bool), 1)).float()
    )

    data = torch.arange(10.0)
    mask = data % 3 == 0
    assert torch.masked_select(data, mask).tolist() == [0.0, 3.0, 6.0, 9.0]
    filled = data.masked_scatter(mask, torch.tensor([-1.0, -2.0, -3.0, -4.0]))
    assert filled[mask].tolist() == [-1.0, -2.0, -3.0, -4.0] and filled[1] == 1
    assert torch.where(mask, data, -data).sum().item() == 18 - 27

    # masked mean over padded sequences
    lengths = torch.tensor([3, 1, 4])
    padded = torch.randn(3, 4, 2)
    valid = torch.arange(4)[None, :] < lengths[:, None]
    masked_mean = (padded * valid[..., None]).sum(1) / lengths[:, None]
    for i, n in enumerate(lengths.tolist()):
        assert torch.allclose(masked_mean[i], padded[i, :n].mean(0), atol=1e-6)
    assert valid.sum().item() == 8

    # nan-aware reductions
    with_nan = torch.tensor([1.0, float("nan"), 3.0])
    assert torch.isnan(with_nan.sum()) and with_nan.nansum().item() == 4.0
    assert with_nan.nanmean().item() == 2.0 and with_nan.nanmedian().item() == 1.0
    assert torch.nan_to_num(with_nan, nan=0.0).tolist() == [1.0, 0.0, 3.0]
    assert torch.isnan(with_nan).tolist() == [False, True, False]
    print(f"OK 05_einsum_masked bilinear_sum={bilinear.sum().item():.4f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
