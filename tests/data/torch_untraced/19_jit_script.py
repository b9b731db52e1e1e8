"""torch.jit.script a module with control flow, save and load it."""

import tempfile
from pathlib import Path

import torch


class Gate(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.lin(x)
        if bool(out.sum() > 0):
            return out
        return -out


torch.manual_seed(0)
scripted = torch.jit.script(Gate())
x = torch.randn(2, 4)
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "gate.pt"
    scripted.save(str(path))
    loaded = torch.jit.load(str(path))
assert torch.allclose(loaded(x), scripted(x))
assert "if" in scripted.code
print("OK jit_script")
