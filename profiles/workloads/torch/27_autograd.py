"""Autograd: backward and .grad accumulation, torch.autograd.grad with create_graph for second
derivatives, retain_graph, no_grad/inference_mode/enable_grad, detach, tensor hooks
(register_hook), module forward/backward hooks, a custom autograd.Function checked with
gradcheck, torch.autograd.functional (jacobian, hessian, vjp, jvp), and anomaly detection."""

import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
from torch.autograd.functional import hessian, jacobian, jvp, vjp


class Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * 3 * x**2


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x**2).sum()
    y.backward(retain_graph=True)
    assert x.grad.tolist() == [2.0, 4.0, 6.0]
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0, 12.0]  # accumulates
    x.grad = None

    (first,) = torch.autograd.grad((x**3).sum(), x, create_graph=True)
    assert first.tolist() == [3.0, 12.0, 27.0] and first.requires_grad
    (second,) = torch.autograd.grad(first.sum(), x)
    assert second.tolist() == [6.0, 12.0, 18.0]
    w = torch.randn(3, requires_grad=True)
    gx, gw = torch.autograd.grad((x * w).sum(), [x, w])
    assert torch.equal(gx, w.detach()) and torch.equal(gw, x.detach())
    unused = torch.randn(2, requires_grad=True)
    assert torch.autograd.grad(x.sum(), [x, unused], allow_unused=True)[1] is None

    with torch.no_grad():
        assert not (x * 2).requires_grad
    with torch.inference_mode():
        inferred = x * 2
    assert inferred.is_inference() and not inferred.requires_grad
    with torch.no_grad(), torch.enable_grad():
        assert (x * 2).requires_grad
    assert not x.detach().requires_grad and x.detach().data_ptr() == x.data_ptr()

    seen = []
    h = x * 2
    handle = h.register_hook(lambda grad: seen.append(grad.clone()) or grad * 10)
    h.sum().backward()
    assert seen[0].tolist() == [1.0, 1.0, 1.0] and x.grad.tolist() == [20.0, 20.0, 20.0]
    handle.remove()
    x.grad = None

    layer = nn.Linear(3, 2)
    records = {}

    def pre_hook(module, args):  # returning None keeps the inputs
        records["pre"] = args[0].shape

    def forward_hook(module, args, out):
        records["out"] = out.shape

    def backward_hook(module, grad_input, grad_output):
        records["gout"] = grad_output[0].shape

    def accumulated_hook(param):
        records["accumulated"] = param.grad.norm().item()

    layer.register_forward_pre_hook(pre_hook)
    layer.register_forward_hook(forward_hook)
    layer.register_full_backward_hook(backward_hook)
    layer.weight.register_post_accumulate_grad_hook(accumulated_hook)
    layer(torch.randn(5, 3, requires_grad=True)).sum().backward()
    assert records["pre"] == (5, 3) and records["out"] == (5, 2) and records["gout"] == (5, 2)
    assert records["accumulated"] > 0

    z = torch.randn(5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(Cube.apply, (z,))
    assert torch.autograd.gradgradcheck(lambda t: (t.sin() * t).sum(), (z,))
    assert torch.allclose(torch.autograd.grad(Cube.apply(z).sum(), z)[0], 3 * z.detach() ** 2)

    def f(v: torch.Tensor) -> torch.Tensor:
        return torch.stack([v[0] * v[1], v[1] ** 2, torch.sin(v[2])])

    point = torch.tensor([1.0, 2.0, 0.0])
    jac = jacobian(f, point)
    assert torch.allclose(jac, torch.tensor([[2.0, 1.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 1.0]]))
    hess = hessian(lambda v: (v**2).prod(), torch.tensor([1.0, 2.0]))
    assert torch.allclose(hess, torch.tensor([[8.0, 8.0], [8.0, 2.0]]))
    _, vjp_out = vjp(f, point, torch.ones(3))
    assert torch.allclose(vjp_out, jac.T @ torch.ones(3))
    _, jvp_out = jvp(f, point, torch.tensor([1.0, 0.0, 0.0]))
    assert torch.allclose(jvp_out, jac[:, 0])

    with torch.autograd.set_detect_anomaly(True):
        bad = torch.tensor([-1.0], requires_grad=True)
        try:
            torch.sqrt(bad * 0).backward(torch.tensor([float("nan")]))
        except RuntimeError as error:
            assert "nan" in str(error).lower()
        else:
            raise AssertionError("anomaly mode did not flag the nan gradient")
    print(f"OK 27_autograd hessian_trace={hess.trace().item():.1f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
