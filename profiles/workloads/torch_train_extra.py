"""Not traced for any profile: a regression conv net trained with SGD (momentum, Nesterov),
MSE loss, a step LR schedule, gradient clipping and a map-style Dataset; checkpoint round trip."""
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn


class Signals(torch.utils.data.Dataset):
    """1-D signals whose target is a weighted sum of their band energies."""

    def __init__(self, n: int) -> None:
        generator = torch.Generator().manual_seed(1)
        self.x = torch.randn(n, 2, 64, generator=generator)
        self.y = self.x.pow(2).mean(dim=2) @ torch.tensor([[1.5], [-0.5]])

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[index], self.y[index]


def make_model() -> nn.Module:
    return nn.Sequential(
        nn.Conv1d(2, 8, kernel_size=5, padding=2), nn.GELU(),
        nn.Conv1d(8, 8, kernel_size=5, padding=2), nn.Tanh(),
        nn.AdaptiveMaxPool1d(8), nn.Flatten(), nn.LayerNorm(64), nn.Linear(64, 1),
    )


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    loader = torch.utils.data.DataLoader(Signals(1024), batch_size=32, shuffle=True)
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True,
                                weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    loss_fn = nn.MSELoss()
    epoch_losses = []
    for _ in range(4):
        total = 0.0
        for x, y in loader:
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            total += loss.item() * len(x)
        schedule.step()
        epoch_losses.append(total / len(loader.dataset))
    assert epoch_losses[-1] < epoch_losses[0], epoch_losses
    path = workdir / "regressor.pt"
    torch.save({"model": model.state_dict(), "schedule": schedule.state_dict()}, path)
    state = torch.load(path, weights_only=True)
    restored = make_model()
    restored.load_state_dict(state["model"])
    probe = torch.randn(4, 2, 64)
    with torch.no_grad():
        assert torch.allclose(model.eval()(probe), restored.eval()(probe))
    print(f"OK torch_train_extra mse={epoch_losses[0]:.4f}->{epoch_losses[-1]:.4f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
