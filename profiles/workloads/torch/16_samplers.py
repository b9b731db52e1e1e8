"""Samplers and dataset utilities: SequentialSampler, RandomSampler (with replacement,
seeded), WeightedRandomSampler, SubsetRandomSampler, BatchSampler, a custom bucketing batch
sampler, random_split, Subset, ConcatDataset, ChainDataset, an IterableDataset sharded across
2 workers with get_worker_info, and default_collate on nested structures."""

import sys
import tempfile
from pathlib import Path

import torch
from torch.utils.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    get_worker_info,
    random_split,
)


class Range(IterableDataset):
    def __init__(self, start: int, end: int) -> None:
        self.start, self.end = start, end

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.start, self.end))
        return iter(range(self.start + info.id, self.end, info.num_workers))


class BucketBatchSampler(torch.utils.data.Sampler):
    """Batches indices of similar length together."""

    def __init__(self, lengths: list[int], batch_size: int) -> None:
        self.lengths, self.batch_size = lengths, batch_size

    def __iter__(self):
        order = sorted(range(len(self.lengths)), key=lambda i: self.lengths[i])
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        yield from batches

    def __len__(self) -> int:
        return (len(self.lengths) + self.batch_size - 1) // self.batch_size


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    data = TensorDataset(torch.arange(10))
    assert list(SequentialSampler(data)) == list(range(10))
    first = list(RandomSampler(data, generator=torch.Generator().manual_seed(3)))
    second = list(RandomSampler(data, generator=torch.Generator().manual_seed(3)))
    assert first == second and sorted(first) == list(range(10)) and first != list(range(10))
    with_replacement = list(RandomSampler(data, replacement=True, num_samples=50))
    assert len(with_replacement) == 50 and set(with_replacement) <= set(range(10))

    weights = torch.tensor([0.0] * 9 + [1.0])
    assert set(WeightedRandomSampler(weights, num_samples=20)) == {9}
    class_weights = torch.tensor([0.9, 0.1])
    labels = torch.tensor([0] * 90 + [1] * 10)
    balanced = WeightedRandomSampler(1 / class_weights[labels], num_samples=2000, replacement=True)
    share = labels[list(balanced)].float().mean().item()
    assert 0.4 < share < 0.6, share
    subset_sampler = SubsetRandomSampler([1, 3, 5])
    assert sorted(subset_sampler) == [1, 3, 5]
    batches = list(BatchSampler(SequentialSampler(range(10)), batch_size=4, drop_last=False))
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(BatchSampler(range(10), 4, drop_last=True)) == 2

    lengths = [5, 1, 9, 2, 8, 3]
    seqs = [torch.ones(n) for n in lengths]
    loader = DataLoader(
        seqs, batch_sampler=BucketBatchSampler(lengths, 2), collate_fn=lambda b: [len(x) for x in b]
    )
    assert list(loader) == [[1, 2], [3, 5], [8, 9]]

    train, val, test = random_split(
        range(100), [0.7, 0.2, 0.1], generator=torch.Generator().manual_seed(0)
    )
    assert (len(train), len(val), len(test)) == (70, 20, 10)
    assert sorted(list(train) + list(val) + list(test)) == list(range(100))
    subset = Subset(data, [9, 0])
    assert subset[0][0].item() == 9 and len(subset) == 2
    concat = ConcatDataset([data, TensorDataset(torch.arange(100, 105))])
    assert len(concat) == 15 and concat[12][0].item() == 102
    chained = list(ChainDataset([Range(0, 3), Range(10, 12)]))
    assert chained == [0, 1, 2, 10, 11]

    sharded = DataLoader(Range(0, 20), batch_size=4, num_workers=2)
    seen = sorted(i for batch in sharded for i in batch.tolist())
    assert seen == list(range(20)), seen

    nested = default_collate(
        [
            {"x": torch.ones(2), "y": 1, "meta": ("a", 0.5)},
            {"x": torch.zeros(2), "y": 2, "meta": ("b", 1.5)},
        ]
    )
    assert nested["x"].shape == (2, 2) and nested["y"].tolist() == [1, 2]
    assert list(nested["meta"][0]) == ["a", "b"] and nested["meta"][1].dtype == torch.float64
    print(f"OK 16_samplers balanced_share={share:.3f} splits={len(train)}/{len(val)}/{len(test)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
