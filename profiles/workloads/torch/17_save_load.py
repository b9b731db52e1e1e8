"""Serialization: torch.save/torch.load of tensors, nested containers and state_dicts, to
files and BytesIO; weights_only=True (default) and what it refuses, safe_globals,
map_location, mmap loading, shared storage preserved, load_state_dict strict=False, buffers,
whole-module pickling, and the zip archive format."""

import collections
import io
import sys
import tempfile
import zipfile
from pathlib import Path

import torch
import torch.nn as nn


class Config:
    def __init__(self, width: int) -> None:
        self.width = width


class Net(nn.Module):
    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.body = nn.Linear(4, width)
        self.head = nn.Linear(width, 2)
        self.register_buffer("scale", torch.tensor(2.0))
        self.register_buffer("scratch", torch.zeros(1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.body(x))) * self.scale


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    base = torch.randn(10)
    payload = {
        "tensor": base,
        "view": base[2:5],  # shares storage with base
        "ints": torch.arange(5, dtype=torch.int32),
        "half": torch.randn(3).half(),
        "complex": torch.randn(2, dtype=torch.complex64),
        "list": [torch.ones(2), 3, "text", 1.5, None, True],
        "nested": {"a": (torch.zeros(1), {"b": torch.eye(2)})},
        "ordered": collections.OrderedDict(x=torch.ones(1)),
    }
    path = workdir / "payload.pt"
    torch.save(payload, path)
    assert zipfile.is_zipfile(path)
    loaded = torch.load(path)  # weights_only=True by default
    assert torch.equal(loaded["tensor"], base) and loaded["half"].dtype == torch.float16
    assert loaded["list"][1:] == [3, "text", 1.5, None, True]
    assert torch.equal(loaded["nested"]["a"][1]["b"], torch.eye(2))
    loaded["tensor"][3] = 100.0
    assert loaded["view"][1] == 100.0  # the view relation survives the round trip
    assert isinstance(loaded["ordered"], collections.OrderedDict)
    mapped = torch.load(path, map_location="cpu", mmap=True)
    assert torch.equal(mapped["ints"], payload["ints"])
    with_device_map = torch.load(path, map_location=lambda storage, location: storage)
    assert with_device_map["complex"].dtype == torch.complex64

    custom_path = workdir / "custom.pt"
    torch.save({"config": Config(16), "weights": torch.ones(1)}, custom_path)
    try:
        torch.load(custom_path)
    except Exception as error:  # pickle.UnpicklingError: refuses arbitrary classes
        assert "weights_only" in str(error) or "Unsupported global" in str(error), error
    else:
        raise AssertionError("weights_only load accepted an arbitrary class")
    assert torch.load(custom_path, weights_only=False)["config"].width == 16
    with torch.serialization.safe_globals([Config]):
        assert torch.load(custom_path)["config"].width == 16

    model = Net()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    assert set(model.state_dict()) == {
        "body.weight",
        "body.bias",
        "head.weight",
        "head.bias",
        "scale",
    }
    buffer.seek(0)
    restored = Net()
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    x = torch.randn(3, 4)
    assert torch.equal(model(x), restored(x))

    wider = Net(width=8)
    state = model.state_dict()
    state.pop("head.bias")
    state["extra"] = torch.zeros(1)
    result = wider.load_state_dict(state, strict=False)
    assert result.missing_keys == ["head.bias"] and result.unexpected_keys == ["extra"]
    try:
        Net(width=16).load_state_dict(model.state_dict())
    except RuntimeError as error:
        assert "size mismatch" in str(error)
    else:
        raise AssertionError("shape mismatch not detected")

    whole_path = workdir / "whole_model.pt"
    torch.save(model, whole_path)
    whole = torch.load(whole_path, weights_only=False)
    assert isinstance(whole, Net) and torch.equal(whole(x), model(x))
    tensor_path = workdir / "just_a_tensor.pt"
    torch.save(torch.arange(1000.0), tensor_path)
    assert torch.load(tensor_path).sum().item() == 499500.0
    print(
        f"OK 17_save_load payload_bytes={path.stat().st_size} state_keys={len(model.state_dict())}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
