"""torch.func: hessian (forward-over-reverse), vmap over grad, jacrev."""

import torch
from torch.func import grad, hessian, jacrev, vmap

torch.manual_seed(0)


def cube_sum(v: torch.Tensor) -> torch.Tensor:
    return (v**3).sum()


x = torch.randn(4, dtype=torch.float64)
assert torch.allclose(hessian(cube_sum)(x), torch.diag(6 * x))
batch = torch.randn(3, 4, dtype=torch.float64)
assert torch.allclose(vmap(grad(cube_sum))(batch), 3 * batch**2)
assert torch.allclose(jacrev(torch.sin)(x), torch.diag(torch.cos(x)))
print("OK func_hessian")
