"""Sorting and selection: sort/argsort (stable, descending), topk, kthvalue, median/mode,
unique (counts, inverse), unique_consecutive, searchsorted/bucketize, histc/bincount,
msort and a small top-k accuracy computation."""

import sys
import tempfile
from pathlib import Path

import torch


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    x = torch.tensor([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])
    values, indices = torch.sort(x)
    assert values.tolist() == [1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 9.0]
    assert torch.equal(x[indices], values)
    assert torch.sort(x, stable=True).indices[:2].tolist() == [1, 3]
    assert torch.sort(x, descending=True).values[0] == 9
    assert torch.equal(torch.argsort(x, stable=True), torch.sort(x, stable=True).indices)
    top_values, top_indices = torch.topk(x, 3)
    assert top_values.tolist() == [9.0, 6.0, 5.0] and top_indices.tolist() == [5, 7, 4]
    assert torch.topk(x, 2, largest=False).values.tolist() == [1.0, 1.0]
    assert torch.kthvalue(x, 3).values.item() == 2.0
    assert torch.median(x).item() == 3.0  # lower median
    assert torch.quantile(x, 0.5).item() == 3.5
    assert torch.mode(torch.tensor([2, 7, 7, 1, 7, 2])).values.item() == 7

    matrix = torch.randn(5, 10)
    row_sorted = matrix.sort(dim=1).values
    assert (row_sorted[:, 1:] >= row_sorted[:, :-1]).all()
    assert torch.equal(torch.msort(matrix), matrix.sort(dim=0).values)
    assert torch.equal(
        matrix.topk(4, dim=1).values, matrix.sort(dim=1, descending=True).values[:, :4]
    )

    labels = torch.tensor([3, 1, 3, 3, 2, 1])
    uniq, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    assert uniq.tolist() == [1, 2, 3] and counts.tolist() == [2, 1, 3]
    assert torch.equal(uniq[inverse], labels)
    assert torch.unique_consecutive(torch.tensor([1, 1, 2, 2, 2, 1])).tolist() == [1, 2, 1]
    assert torch.bincount(labels).tolist() == [0, 2, 1, 3]
    assert torch.histc(torch.tensor([0.1, 0.2, 0.6, 0.9]), bins=2, min=0, max=1).tolist() == [
        2.0,
        2.0,
    ]

    boundaries = torch.tensor([1.0, 3.0, 5.0, 7.0])
    assert torch.searchsorted(boundaries, torch.tensor([0.0, 3.0, 6.0, 8.0])).tolist() == [
        0,
        1,
        3,
        4,
    ]
    assert torch.searchsorted(boundaries, torch.tensor([3.0]), right=True).tolist() == [2]
    assert torch.bucketize(torch.tensor([2.0, 5.5]), boundaries).tolist() == [1, 3]

    # top-k accuracy of random logits against labels
    logits = torch.randn(1000, 10)
    target = torch.randint(0, 10, (1000,))
    top5 = logits.topk(5, dim=1).indices
    hit5 = (top5 == target[:, None]).any(dim=1).float().mean().item()
    hit1 = (logits.argmax(dim=1) == target).float().mean().item()
    assert hit1 <= hit5 and 0.4 < hit5 < 0.6, (hit1, hit5)
    ranks = logits.argsort(dim=1, descending=True).argsort(dim=1)
    assert torch.equal(ranks.gather(1, top5[:, :1]).flatten(), torch.zeros(1000, dtype=torch.long))
    print(f"OK 06_sort_topk top1={hit1:.3f} top5={hit5:.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
