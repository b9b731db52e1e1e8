"""CPU inference: a small conv+linear model in eval mode under no_grad, TorchScript (trace and
script), saved and reloaded, then batched inference checked against eager mode."""
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, kernel_size=3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, kernel_size=3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d((4, 4)),
        )
        self.head = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.features(x), 1))


class Classifier(nn.Module):
    """Wraps the net with control flow, so that it needs torch.jit.script, not trace."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, top: int = 1) -> torch.Tensor:
        logits = self.net(x)
        if top > 1:
            return torch.topk(logits, top, dim=1).indices
        return torch.argmax(torch.softmax(logits, dim=1), dim=1)


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = Net().eval()
    images = torch.randn(64, 3, 32, 32)
    with torch.no_grad():
        eager = model(images)
        traced = torch.jit.trace(model, images[:4])
        scripted = torch.jit.script(Classifier(model))
    traced_path, scripted_path = workdir / "net_traced.pt", workdir / "net_scripted.pt"
    torch.jit.save(traced, str(traced_path))
    scripted.save(str(scripted_path))
    loaded_traced = torch.jit.load(str(traced_path), map_location="cpu").eval()
    loaded_scripted = torch.jit.load(str(scripted_path), map_location="cpu").eval()
    outputs, labels = [], []
    with torch.inference_mode():
        for batch in images.split(16):
            outputs.append(loaded_traced(batch))
            labels.append(loaded_scripted(batch))
        top3 = loaded_scripted(images[:8], 3)
    assert torch.allclose(torch.cat(outputs), eager, atol=1e-5)
    assert torch.equal(torch.cat(labels), eager.argmax(dim=1))
    assert top3.shape == (8, 3)
    print(f"OK torch_infer batches={len(outputs)} classes={torch.cat(labels).unique().numel()}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
