"""Printing tensors: repr/str of every common dtype (float, half, bfloat16, int, bool, complex),
0-d and empty tensors, nan/inf, summarised large tensors, sparse COO/CSR, tensors with a
grad_fn, print options, f-string formatting, and the repr of an nn.Module."""

import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    samples = {
        "float32": torch.tensor([[1.5, -2.25], [3.0, 1e-4]]),
        "float64": torch.arange(3, dtype=torch.float64) / 3,
        "float16": torch.tensor([0.5, 1.0], dtype=torch.float16),
        "bfloat16": torch.tensor([0.5, 1.0], dtype=torch.bfloat16),
        "int64": torch.arange(5),
        "int32": torch.tensor([-1, 7], dtype=torch.int32),
        "uint8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False]),
        "complex64": torch.tensor([1 + 2j, -0.5j]),
        "complex128": torch.tensor([3 - 4j], dtype=torch.complex128),
        "scalar": torch.tensor(3.5),
        "empty": torch.empty(0, 3),
        "special": torch.tensor([float("nan"), float("inf"), -float("inf"), 0.0]),
        "large": torch.randn(200, 200),
        "sparse_coo": torch.eye(3).to_sparse(),
        "sparse_csr": torch.eye(3).to_sparse_csr(),
        "grad_fn": torch.ones(2, requires_grad=True) * 2,
        "leaf": torch.zeros(2, requires_grad=True),
    }
    out_path = workdir / "printed.txt"
    with out_path.open("w") as out:
        for name, tensor in samples.items():
            print(f"--- {name}", file=out)
            print(tensor, file=out)
            print(repr(tensor), file=out)
        torch.set_printoptions(precision=2, sci_mode=False, linewidth=40)
        print(torch.tensor([3.14159, 2.71828, 1e-8]), file=out)
        short = str(torch.tensor([3.14159]))
        torch.set_printoptions(profile="full")
        full = str(torch.arange(2000))
        torch.set_printoptions(profile="default")
        print(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Conv2d(1, 2, 3)), file=out)
    text = out_path.read_text()
    reprs = {name: repr(tensor) for name, tensor in samples.items()}

    assert reprs["float32"].startswith("tensor([[ 1.5000e+00, -2.2500e+00]"), reprs["float32"]
    assert "dtype=torch.float64" in reprs["float64"]
    assert "dtype=torch.float16" in reprs["float16"]
    assert "dtype=torch.bfloat16" in reprs["bfloat16"]
    assert reprs["int64"] == "tensor([0, 1, 2, 3, 4])"
    assert reprs["int32"] == "tensor([-1,  7], dtype=torch.int32)"
    assert reprs["uint8"] == "tensor([  0, 255], dtype=torch.uint8)"
    assert reprs["bool"] == "tensor([ True, False])"
    assert "1.+2.0000j" in reprs["complex64"], reprs["complex64"]
    assert "dtype=torch.complex128" in reprs["complex128"]
    assert reprs["scalar"] == "tensor(3.5000)"
    assert reprs["empty"] == "tensor([], size=(0, 3))"
    assert "nan" in reprs["special"] and "inf" in reprs["special"] and "-inf" in reprs["special"]
    assert "..." in reprs["large"] and len(reprs["large"]) < 2000
    assert (
        "indices=tensor(" in reprs["sparse_coo"]
        and "layout=torch.sparse_coo" in reprs["sparse_coo"]
    )
    assert (
        "crow_indices=tensor(" in reprs["sparse_csr"]
        and "layout=torch.sparse_csr" in reprs["sparse_csr"]
    )
    assert "grad_fn=<MulBackward0>" in reprs["grad_fn"]
    assert "requires_grad=True" in reprs["leaf"]
    assert short == "tensor([3.14])", short
    assert "..." not in full and "1999" in full
    assert "Linear(in_features=4, out_features=3, bias=True)" in text
    assert f"{torch.tensor(2.0 / 3):.3f}" == "0.667"
    assert f"{torch.tensor([1.5]).item():+.1f}" == "+1.5"
    assert str(torch.tensor([1.0])) == "tensor([1.])"  # defaults restored
    print(f"OK 01_tensor_print samples={len(samples)} chars={len(text)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
