"""DataLoader with num_workers=2: a map-style Dataset of variable-length sequences, a custom
collate_fn that pads them, worker_init_fn, persistent workers over two epochs, prefetching,
drop_last, and checks that every sample is seen exactly once, in order when not shuffled."""

import sys
import tempfile
from pathlib import Path

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset, get_worker_info


class Sentences(Dataset):
    """Sample i is a sequence of length 1 + i % 7 filled with the value i."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict:
        info = get_worker_info()
        worker = -1 if info is None else info.id
        return {"index": index, "tokens": torch.full((1 + index % 7,), index), "worker": worker}


def pad_collate(batch: list[dict]) -> dict:
    tokens = [item["tokens"] for item in batch]
    return {
        "index": torch.tensor([item["index"] for item in batch]),
        "tokens": pad_sequence(tokens, batch_first=True, padding_value=-1),
        "lengths": torch.tensor([len(t) for t in tokens]),
        "worker": torch.tensor([item["worker"] for item in batch]),
    }


def seed_worker(worker_id: int) -> None:
    torch.manual_seed(torch.initial_seed() % 2**32 + worker_id)


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    dataset = Sentences(103)
    ordered = DataLoader(
        dataset,
        batch_size=8,
        num_workers=2,
        collate_fn=pad_collate,
        worker_init_fn=seed_worker,
        prefetch_factor=2,
    )
    indices, workers = [], set()
    for batch in ordered:
        indices.extend(batch["index"].tolist())
        workers.update(batch["worker"].tolist())
        lengths = batch["lengths"]
        assert batch["tokens"].shape == (len(lengths), int(lengths.max()))
        for row, n in zip(batch["tokens"], lengths.tolist(), strict=True):
            assert (row[n:] == -1).all() and (row[:n] >= 0).all()
    assert indices == list(range(103)), indices[:10]
    assert workers == {0, 1}, workers

    generator = torch.Generator().manual_seed(42)
    shuffled = DataLoader(
        dataset,
        batch_size=10,
        shuffle=True,
        num_workers=2,
        collate_fn=pad_collate,
        drop_last=True,
        persistent_workers=True,
        generator=generator,
    )
    epochs = []
    for _ in range(2):
        epoch = [i for batch in shuffled for i in batch["index"].tolist()]
        assert len(epoch) == 100 and len(set(epoch)) == 100
        epochs.append(epoch)
    assert epochs[0] != epochs[1] and epochs[0] != sorted(epochs[0])
    assert len(shuffled) == 10

    again = DataLoader(
        dataset,
        batch_size=10,
        shuffle=True,
        num_workers=2,
        collate_fn=pad_collate,
        drop_last=True,
        generator=torch.Generator().manual_seed(42),
    )
    assert [i for batch in again for i in batch["index"].tolist()] == epochs[0]  # reproducible

    tensors = torch.utils.data.TensorDataset(torch.arange(20.0)[:, None], torch.arange(20))
    default = DataLoader(tensors, batch_size=6, num_workers=2)
    shapes = [(x.shape, y.shape) for x, y in default]
    assert shapes[0] == (torch.Size([6, 1]), torch.Size([6])) and shapes[-1][1] == torch.Size([2])
    print(f"OK 15_dataloader_workers samples={len(indices)} workers={sorted(workers)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
