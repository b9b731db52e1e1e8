"""torch.compile with the default Inductor backend on CPU (C++ code generation; needs a C++
compiler): a small MLP with a fused elementwise tail, compiled once, outputs checked against
eager mode, a second call of the same shape reusing the compiled code, and the generated C++
kernel and shared library found in a cache directory inside the work directory."""

import os
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F


class Head(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.silu(self.fc1(x))
        return torch.sigmoid(self.fc2(h)) * 2 + x[:, :4]


def main(workdir: Path) -> None:
    cache = workdir / "inductor-cache"
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(cache)  # not /tmp/torchinductor_<user>
    torch.manual_seed(0)
    model = Head().eval()
    compiled = torch.compile(model)  # backend="inductor" is the default
    inputs = torch.randn(8, 16)
    with torch.no_grad():
        assert torch.allclose(compiled(inputs), model(inputs), atol=1e-5)
        assert torch.allclose(
            compiled(inputs * 2), model(inputs * 2), atol=1e-5
        )  # same shape: no recompile
    generated = [p for p in cache.rglob("*") if p.suffix in {".cpp", ".py", ".so"}]
    assert any(p.suffix == ".cpp" for p in generated), sorted(p.name for p in generated)
    assert any(p.suffix == ".so" for p in generated), sorted(p.name for p in generated)
    print(f"OK 34_compile_inductor generated_files={len(generated)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
