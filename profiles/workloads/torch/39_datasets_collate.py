"""Datasets beyond the basics: TensorDataset, random_split with a generator, Subset,
ConcatDataset, a map-style dataset of dicts with default_collate, a custom collate_fn
that pads variable-length sequences, an IterableDataset, and drop_last."""

import sys
import tempfile
from pathlib import Path

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)


class Records(Dataset):
    def __len__(self) -> int:
        return 10

    def __getitem__(self, i: int) -> dict[str, object]:
        return {"id": i, "x": torch.full((3,), float(i)), "name": f"r{i}"}


class Sequences(Dataset):
    def __len__(self) -> int:
        return 12

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.arange(1, i % 5 + 2)


class Counter(IterableDataset):
    def __iter__(self):
        yield from (torch.tensor(i) for i in range(7))


def pad(batch: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    return pad_sequence(batch, batch_first=True), torch.tensor([len(s) for s in batch])


def main(workdir: Path) -> None:
    torch.manual_seed(39)
    data = TensorDataset(torch.randn(100, 4), torch.randint(0, 2, (100,)))
    train, val = random_split(data, [0.8, 0.2], generator=torch.Generator().manual_seed(0))
    assert len(train) == 80 and len(val) == 20
    assert not set(train.indices) & set(val.indices)
    subset = Subset(data, range(10))
    both = ConcatDataset([subset, val])
    assert len(both) == 30 and torch.equal(both[0][0], data[0][0])
    batch = default_collate([Records()[i] for i in range(4)])
    assert batch["id"].tolist() == [0, 1, 2, 3] and batch["x"].shape == (4, 3)
    assert batch["name"] == ["r0", "r1", "r2", "r3"]
    loader = DataLoader(Records(), batch_size=3, drop_last=True)
    assert len(list(loader)) == 3
    padded, lengths = next(iter(DataLoader(Sequences(), batch_size=5, collate_fn=pad)))
    assert padded.shape == (5, 5) and lengths.tolist() == [1, 2, 3, 4, 5]
    assert int((padded != 0).sum()) == int(lengths.sum())
    seen = [int(b) for batch in DataLoader(Counter(), batch_size=2) for b in batch]
    assert seen == list(range(7))
    total = sum(len(y) for _, y in DataLoader(train, batch_size=16, shuffle=True))
    assert total == 80
    print(f"OK 39_datasets_collate batches={len(loader)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
