"""torch.nested with layout=torch.jagged: ragged batch, elementwise op and per-sequence sum."""

import torch

torch.manual_seed(0)
parts = [torch.randn(2, 3), torch.randn(5, 3), torch.randn(1, 3)]
nt = torch.nested.nested_tensor(parts, layout=torch.jagged)
doubled = (nt * 2).sin()
for got, part in zip(doubled.unbind(), parts, strict=True):
    assert torch.allclose(got, (part * 2).sin())
print("OK nested_jagged")
