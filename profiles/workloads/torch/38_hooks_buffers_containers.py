"""Module internals: forward pre/post hooks, full backward hooks, tensor hooks,
register_buffer (persistent or not), ModuleDict/ModuleList/ParameterList/ParameterDict,
named_modules/named_buffers, apply, parameters_to_vector/vector_to_parameters, freezing
parameters, and a state_dict with a non-persistent buffer left out."""

import sys
import tempfile
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)])
        self.heads = nn.ModuleDict({"cls": nn.Linear(8, 4), "reg": nn.Linear(8, 1)})
        self.scales = nn.ParameterList([nn.Parameter(torch.ones(8)) for _ in range(3)])
        self.extra = nn.ParameterDict({"bias": nn.Parameter(torch.zeros(4))})
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.register_buffer("cache", torch.zeros(8), persistent=False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        self.steps += 1
        for block, scale in zip(self.blocks, self.scales, strict=True):
            x = torch.relu(block(x)) * scale
        self.cache = x.detach().mean(0)
        return {"cls": self.heads["cls"](x) + self.extra["bias"], "reg": self.heads["reg"](x)}


def main(workdir: Path) -> None:
    torch.manual_seed(38)
    net = Net()
    seen: list[str] = []
    handles = [
        net.blocks[0].register_forward_pre_hook(lambda m, inp: seen.append("pre")),
        net.blocks[0].register_forward_hook(lambda m, inp, out: seen.append("post")),
        net.blocks[0].register_full_backward_hook(lambda m, gin, gout: seen.append("back")),
    ]
    x = torch.randn(16, 8, requires_grad=True)
    grads: list[torch.Tensor] = []
    x.register_hook(lambda g: grads.append(g))
    out = net(x)
    (out["cls"].sum() + out["reg"].sum()).backward()
    assert seen == ["pre", "post", "back"], seen
    assert grads and grads[0].shape == x.shape
    for handle in handles:
        handle.remove()
    net(x)
    assert seen == ["pre", "post", "back"]
    assert int(net.steps) == 2
    state = net.state_dict()
    assert "steps" in state and "cache" not in state
    assert {name for name, _ in net.named_buffers()} == {"steps", "cache"}
    assert len([m for m in net.modules() if isinstance(m, nn.Linear)]) == 5
    net.apply(lambda m: nn.init.zeros_(m.bias) if isinstance(m, nn.Linear) else None)
    assert all(float(m.bias.abs().sum()) == 0 for m in net.modules() if isinstance(m, nn.Linear))
    vector = parameters_to_vector(net.parameters())
    assert vector.numel() == sum(p.numel() for p in net.parameters())
    vector_to_parameters(torch.full_like(vector, 0.5), net.parameters())
    assert all(bool((p == 0.5).all()) for p in net.parameters())
    for p in net.blocks.parameters():
        p.requires_grad_(False)
    trainable = [n for n, p in net.named_parameters() if p.requires_grad]
    assert trainable and not any(n.startswith("blocks.") for n in trainable)
    path = workdir / "net.pt"
    torch.save(net.state_dict(), path)
    again = Net()
    again.load_state_dict(torch.load(path, weights_only=True))
    assert torch.equal(again.heads["cls"].weight, net.heads["cls"].weight)
    print(f"OK 38_hooks_buffers_containers params={vector.numel()}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
