"""torch.export: export a module, save/load the ExportedProgram, run it."""

import tempfile
from pathlib import Path

import torch


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.lin(x)) * 2


torch.manual_seed(0)
net = Net().eval()
x = torch.randn(3, 4)
program = torch.export.export(net, (x,))
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "net.pt2"
    torch.export.save(program, path)
    loaded = torch.export.load(path)
y = torch.randn(3, 4)
assert torch.allclose(loaded.module()(y), net(y), atol=1e-6)
print("OK torch_export")
