"""torch.compile(backend="eager"): TorchDynamo captures a function, no C++ compiler needed."""

import torch

torch.manual_seed(0)


def f(x: torch.Tensor) -> torch.Tensor:
    return torch.sin(x) ** 2 + torch.cos(x) ** 2


compiled = torch.compile(f, backend="eager", fullgraph=True)
x = torch.randn(100)
assert torch.allclose(compiled(x), torch.ones(100), atol=1e-6)
print("OK compile_eager")
