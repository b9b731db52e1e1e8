"""torch.fx.experimental.proxy_tensor.make_fx: trace a function down to aten ops."""

import torch
from torch.fx.experimental.proxy_tensor import make_fx


def f(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.gelu(x).cos()


torch.manual_seed(0)
x = torch.randn(6)
gm = make_fx(f)(x)
targets = {str(n.target) for n in gm.graph.nodes if n.op == "call_function"}
assert targets == {"aten.gelu.default", "aten.cos.default"}, targets
y = torch.randn(6)
assert torch.allclose(gm(y), f(y))
print("OK make_fx")
