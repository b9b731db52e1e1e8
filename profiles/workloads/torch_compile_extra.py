"""Not traced for any profile: torch.compile (TorchInductor, C++ codegen on CPU) of a small MLP,
checked against eager mode. Needs a C++ compiler on the machine."""
import os
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn


def main(workdir: Path) -> None:
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(workdir / "inductor")  # not /tmp/torchinductor_*
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.SiLU(), nn.Linear(32, 4)).eval()
    compiled = torch.compile(model)
    inputs = torch.randn(8, 16)
    with torch.no_grad():
        assert torch.allclose(compiled(inputs), model(inputs), atol=1e-5)
    print(f"OK torch_compile_extra cache={len(list((workdir / 'inductor').rglob('*')))} files")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
