"""TorchScript: torch.jit.script on a function and on a module with control flow, typed
attributes and a @torch.jit.export method; torch.jit.trace with check_inputs; the .code and
.graph of scripted objects; jit.save/jit.load (file and BytesIO) and outputs checked against
eager mode; jit.freeze of an eval-mode module."""

import io
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn


@torch.jit.script
def running_max(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    best = x[0]
    for i in range(x.size(0)):
        best = torch.maximum(best, x[i])
        out[i] = best
    return out


class Gate(nn.Module):
    threshold: float

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 8)
        self.norm = nn.LayerNorm(8)
        self.threshold = 0.5

    def forward(self, x: torch.Tensor, steps: int = 2) -> torch.Tensor:
        for _ in range(steps):
            x = self.norm(x + torch.tanh(self.proj(x)))
        if bool(x.mean() > self.threshold):
            x = x * 0.0
        return x

    @torch.jit.export
    def split_sizes(self, x: torch.Tensor) -> list[int]:
        return [int(part.numel()) for part in x.split(3)]


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    series = torch.randn(10)
    assert torch.equal(running_max(series), torch.cummax(series, 0).values)
    assert "prim::Loop" in str(running_max.graph)

    gate = Gate().eval()
    scripted = torch.jit.script(gate)
    x = torch.randn(4, 8)
    assert torch.allclose(scripted(x), gate(x), atol=1e-6)
    assert torch.allclose(scripted(x, 5), gate(x, 5), atol=1e-6)
    assert scripted.split_sizes(torch.zeros(7)) == [3, 3, 1]
    assert "threshold" in scripted.code and isinstance(scripted, torch.jit.ScriptModule)

    conv = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2)
    ).eval()
    example = torch.randn(1, 3, 8, 8)
    traced = torch.jit.trace(conv, example, check_inputs=[(torch.randn(5, 3, 8, 8),)])
    batch = torch.randn(6, 3, 8, 8)
    assert torch.allclose(traced(batch), conv(batch), atol=1e-6)
    traced_fn = torch.jit.trace(lambda a, b: a * 2 + b, (torch.ones(2), torch.ones(2)))
    assert traced_fn(torch.ones(2), torch.zeros(2)).tolist() == [2.0, 2.0]

    path = workdir / "gate.pt"
    scripted.save(str(path))
    loaded = torch.jit.load(str(path))
    assert torch.allclose(loaded(x), gate(x), atol=1e-6) and loaded.split_sizes(torch.zeros(4)) == [
        3,
        1,
    ]
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    buffer.seek(0)
    assert torch.allclose(torch.jit.load(buffer)(batch), conv(batch), atol=1e-6)
    frozen = torch.jit.freeze(torch.jit.script(conv))
    assert torch.allclose(frozen(batch), conv(batch), atol=1e-5)

    # scripted modules still train
    train_gate = torch.jit.script(Gate())
    optimizer = torch.optim.SGD(train_gate.parameters(), lr=0.1)
    target = torch.randn(4, 8)
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = (train_gate(x) - target).pow(2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    print(
        f"OK 23_jit_script_trace code_lines={len(scripted.code.splitlines())} loss={losses[-1]:.4f}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
