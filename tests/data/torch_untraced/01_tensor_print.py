"""Print tensors (torch._tensor_str formatting: summarised, sci-mode, complex)."""

import torch

torch.manual_seed(0)
torch.set_printoptions(precision=3, threshold=20, edgeitems=2, sci_mode=True)
big = torch.arange(1000, dtype=torch.float64).reshape(10, 100) * 1e-5
text = repr(big)
assert "..." in text and "e-" in text, text
cplx = str(torch.tensor([1.5 + 2j, -0.25j]))
assert "j" in cplx, cplx
torch.set_printoptions(profile="default")
assert str(torch.tensor([1.0, 2.5])) == "tensor([1.0000, 2.5000])"
print("OK tensor_print")
