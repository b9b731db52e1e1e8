"""torch.export: export a small module (conv, batch norm in eval, branching on a flag) with a
dynamic batch dimension, inspect the ExportedProgram graph and signature, run its .module()
on other batch sizes, run_decompositions, save/load a .pt2 archive, and check that a shape
outside the declared range is rejected."""

import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
from torch.export import Dim, export


class Scorer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 3, padding=1)
        self.norm = nn.BatchNorm1d(8)
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.norm(self.conv(x))).mean(dim=-1)
        return torch.log_softmax(self.head(h) + bias, dim=-1)


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    model = Scorer().eval()
    x, bias = torch.randn(4, 4, 16), torch.zeros(3)
    batch = Dim("batch", min=1, max=64)
    program = export(model, (x, bias), dynamic_shapes={"x": {0: batch}, "bias": None})
    targets = [str(node.target) for node in program.graph.nodes if node.op == "call_function"]
    assert any("conv1d" in t or "convolution" in t for t in targets), targets
    assert any("log_softmax" in t for t in targets), targets
    inputs = [spec.arg.name for spec in program.graph_signature.input_specs]
    assert len(inputs) >= 2 + len(list(model.parameters()))
    assert "conv.weight" in program.state_dict

    runnable = program.module()
    for n in (1, 4, 9):
        sample = torch.randn(n, 4, 16)
        with torch.no_grad():
            assert torch.allclose(runnable(sample, bias), model(sample, bias), atol=1e-5)

    decomposed = program.run_decompositions()
    sample = torch.randn(5, 4, 16)
    assert torch.allclose(decomposed.module()(sample, bias), model(sample, bias), atol=1e-5)

    path = workdir / "scorer.pt2"
    torch.export.save(program, path)
    reloaded = torch.export.load(path)
    assert torch.allclose(reloaded.module()(sample, bias), model(sample, bias), atol=1e-5)

    try:
        runnable(torch.randn(65, 4, 16), bias)
    except Exception as error:  # outside Dim("batch", max=64)
        assert "batch" in str(error) or "64" in str(error) or "range" in str(error), error
    else:
        raise AssertionError("batch of 65 accepted")
    try:
        runnable(torch.randn(2, 4, 17), bias)  # the length was specialised to 16
    except Exception:
        pass
    else:
        raise AssertionError("static dimension not enforced")

    class Adder(nn.Module):
        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return a + b * 2

    strict_free = export(Adder(), (torch.ones(3), torch.ones(3)), strict=False)
    assert strict_free.module()(torch.ones(3), torch.zeros(3)).tolist() == [1.0, 1.0, 1.0]
    print(f"OK 24_export nodes={len(program.graph.nodes)} call_functions={len(targets)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
