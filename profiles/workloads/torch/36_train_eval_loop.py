"""An everyday end-to-end classification script: synthetic data split into train/val with
random_split, DataLoaders (train shuffled with 2 workers), a model with BatchNorm/Dropout,
AdamW + OneCycleLR, per-epoch train/eval with torch.no_grad, accuracy and a confusion matrix,
early stopping on validation loss, best-model checkpointing, and a final reload."""

import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset, random_split


def make_data(n: int = 1200, classes: int = 3) -> TensorDataset:
    generator = torch.Generator().manual_seed(0)
    centers = torch.randn(classes, 12, generator=generator) * 2
    labels = torch.randint(0, classes, (n,), generator=generator)
    features = centers[labels] + torch.randn(n, 12, generator=generator)
    return TensorDataset(features, labels)


def make_model() -> nn.Module:
    return nn.Sequential(
        nn.Linear(12, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 3)
    )


def evaluate(model: nn.Module, loader: DataLoader) -> tuple[float, float, torch.Tensor]:
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    confusion = torch.zeros(3, 3, dtype=torch.long)
    with torch.no_grad():
        for x, y in loader:
            logits = model(x)
            total_loss += F.cross_entropy(logits, y, reduction="sum").item()
            predicted = logits.argmax(1)
            correct += (predicted == y).sum().item()
            count += len(y)
            confusion.index_put_((y, predicted), torch.ones_like(y), accumulate=True)
    return total_loss / count, correct / count, confusion


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    train_set, val_set = random_split(
        make_data(), [0.8, 0.2], generator=torch.Generator().manual_seed(1)
    )
    train_loader = DataLoader(train_set, batch_size=64, shuffle=True, num_workers=2, drop_last=True)
    val_loader = DataLoader(val_set, batch_size=128)
    model = make_model()
    epochs = 8
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=1e-2, epochs=epochs, steps_per_epoch=len(train_loader)
    )
    best_loss, best_path, patience, bad_epochs, history = (
        float("inf"),
        workdir / "best.pt",
        2,
        0,
        [],
    )
    for epoch in range(epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            scheduler.step()
        val_loss, val_acc, _ = evaluate(model, val_loader)
        history.append((epoch, val_loss, val_acc))
        if val_loss < best_loss - 1e-4:
            best_loss, bad_epochs = val_loss, 0
            torch.save(
                {"epoch": epoch, "model": model.state_dict(), "val_loss": val_loss}, best_path
            )
        else:
            bad_epochs += 1
            if bad_epochs >= patience:
                break
    assert history[-1][2] > 0.9, history
    best = torch.load(best_path, weights_only=True)
    restored = make_model()
    restored.load_state_dict(best["model"])
    loss, accuracy, confusion = evaluate(restored, val_loader)
    assert abs(loss - best["val_loss"]) < 1e-6 and accuracy > 0.9, (
        loss,
        best["val_loss"],
        accuracy,
    )
    assert confusion.sum().item() == len(val_set) and confusion.diag().sum().item() == round(
        accuracy * len(val_set)
    )
    print(
        f"OK 36_train_eval_loop epochs={len(history)} best_epoch={best['epoch']}"
        f" val_acc={accuracy:.3f}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
