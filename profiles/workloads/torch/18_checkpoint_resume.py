"""A full training checkpoint: model, optimizer, LR scheduler, epoch, best metric and the RNG
states (torch CPU RNG, a data-order generator), written atomically, loaded with
weights_only=True into fresh objects; resuming gives bit-identical results to an
uninterrupted run, dropout included."""

import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F


def build() -> tuple[nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 3))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-2)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=6)
    return model, optimizer, scheduler


def data() -> torch.utils.data.TensorDataset:
    generator = torch.Generator().manual_seed(5)
    x = torch.randn(200, 10, generator=generator)
    return torch.utils.data.TensorDataset(x, (x[:, 0] > 0).long() + (x[:, 1] > 0).long())


def train_epochs(model, optimizer, scheduler, loader_generator, epochs: range) -> list[float]:
    loader = torch.utils.data.DataLoader(
        data(), batch_size=20, shuffle=True, generator=loader_generator
    )
    losses = []
    for _ in epochs:
        model.train()
        total = 0.0
        for x, y in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item()
        scheduler.step()
        losses.append(total / len(loader))
    return losses


def save_checkpoint(path: Path, **state) -> None:
    partial = path.with_suffix(".tmp")
    torch.save(state, partial)
    partial.replace(path)


def main(workdir: Path) -> None:
    model, optimizer, scheduler = build()
    straight_losses = train_epochs(
        model, optimizer, scheduler, torch.Generator().manual_seed(1), range(6)
    )
    expected = {k: v.clone() for k, v in model.state_dict().items()}

    model, optimizer, scheduler = build()
    generator = torch.Generator().manual_seed(1)
    first_half = train_epochs(model, optimizer, scheduler, generator, range(3))
    checkpoint = workdir / "checkpoint.pt"
    save_checkpoint(
        checkpoint,
        epoch=3,
        model=model.state_dict(),
        optimizer=optimizer.state_dict(),
        scheduler=scheduler.state_dict(),
        best_loss=min(first_half),
        losses=first_half,
        torch_rng=torch.get_rng_state(),
        loader_rng=generator.get_state(),
    )
    del model, optimizer, scheduler, generator
    torch.manual_seed(123)  # disturb the global RNG before resuming

    state = torch.load(checkpoint, weights_only=True)
    model, optimizer, scheduler = build()
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    generator = torch.Generator()
    generator.set_state(state["loader_rng"])
    assert state["epoch"] == 3 and scheduler.last_epoch == 3
    assert optimizer.param_groups[0]["lr"] == scheduler.get_last_lr()[0]
    second_half = train_epochs(model, optimizer, scheduler, generator, range(state["epoch"], 6))

    assert state["losses"] + second_half == straight_losses, (
        state["losses"] + second_half,
        straight_losses,
    )
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, expected[name]), name
    assert straight_losses[-1] < straight_losses[0]
    assert not checkpoint.with_suffix(".tmp").exists()
    print(
        f"OK 18_checkpoint_resume epochs=6 loss={straight_losses[0]:.4f}->{straight_losses[-1]:.4f}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
