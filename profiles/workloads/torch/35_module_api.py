"""The nn.Module API: a custom module with submodules, ModuleList/ModuleDict/ParameterList/
ParameterDict, named_parameters/named_modules/children/buffers, parameter counting, freezing
with requires_grad_, apply, to(dtype), train/eval, get_submodule, register_module, forward
hooks for feature extraction, deepcopy, and copying weights between modules."""

import copy
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:], strict=False))
        self.heads = nn.ModuleDict({"cls": nn.Linear(dims[-1], 3), "reg": nn.Linear(dims[-1], 1)})
        self.scales = nn.ParameterList([nn.Parameter(torch.ones(d)) for d in dims[1:]])
        self.extras = nn.ParameterDict({"temperature": nn.Parameter(torch.tensor(1.0))})
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def forward(self, x: torch.Tensor, head: str = "cls") -> torch.Tensor:
        for layer, scale in zip(self.layers, self.scales, strict=True):
            x = torch.relu(layer(x)) * scale
        if self.training:
            self.steps += 1
        return self.heads[head](x) / self.extras["temperature"]


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    model = Encoder([8, 16, 16])
    x = torch.randn(4, 8)
    assert model(x).shape == (4, 3) and model(x, head="reg").shape == (4, 1)
    assert model.steps.item() == 2

    names = [name for name, _ in model.named_parameters()]
    assert names[:2] == ["layers.0.weight", "layers.0.bias"] and "extras.temperature" in names
    assert "scales.1" in names and "heads.reg.bias" in names
    total = sum(p.numel() for p in model.parameters())
    assert total == (8 * 16 + 16) + (16 * 16 + 16) + (16 * 3 + 3) + (16 + 1) + 16 + 16 + 1
    assert [name for name, _ in model.named_buffers()] == ["steps"]
    assert [name for name, _ in model.named_children()] == ["layers", "heads", "scales", "extras"]
    assert len([m for m in model.modules() if isinstance(m, nn.Linear)]) == 4
    assert model.get_submodule("heads.cls").out_features == 3
    assert model.get_parameter("layers.1.bias").shape == (16,)

    for p in model.layers.parameters():
        p.requires_grad_(False)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == total - (8 * 16 + 16) - (16 * 16 + 16)
    model(x).sum().backward()
    assert model.layers[0].weight.grad is None and model.heads["cls"].weight.grad is not None
    model.requires_grad_(True)
    assert all(p.requires_grad for p in model.parameters())

    model.zero_grad()
    model.apply(lambda m: nn.init.zeros_(m.bias) if isinstance(m, nn.Linear) else None)
    assert all(m.bias.abs().sum() == 0 for m in model.modules() if isinstance(m, nn.Linear))

    model.eval()
    assert not model.training and not model.heads["cls"].training
    model.train()
    assert model.layers[1].training
    double = copy.deepcopy(model).to(torch.float64)
    assert double.layers[0].weight.dtype == torch.float64 and double.steps.dtype == torch.long
    assert model.layers[0].weight.dtype == torch.float32
    assert double.layers[0].weight.data_ptr() != model.layers[0].weight.data_ptr()

    features = {}
    handle = model.layers[1].register_forward_hook(
        lambda mod, inp, out: features.__setitem__("hidden", out.detach())
    )
    model.eval()
    with torch.no_grad():
        model(x)
    handle.remove()
    assert features["hidden"].shape == (4, 16)

    model.register_module("extra_head", nn.Linear(16, 2))
    model.add_module("dropout", nn.Dropout(0.1))
    assert "extra_head.weight" in model.state_dict() and isinstance(model.dropout, nn.Dropout)
    twin = Encoder([8, 16, 16])
    twin.load_state_dict(
        {k: v for k, v in model.state_dict().items() if not k.startswith("extra_head")}
    )
    twin.eval()
    with torch.no_grad():
        assert torch.equal(twin(x), model(x))
        twin.heads["cls"].weight.copy_(torch.zeros(3, 16))
    assert twin.heads["cls"](torch.randn(2, 16)).abs().sum() == 0
    assert "ModuleList" in repr(model) and "ParameterDict" in repr(model)
    print(f"OK 35_module_api params={total} trainable_when_frozen={trainable}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
