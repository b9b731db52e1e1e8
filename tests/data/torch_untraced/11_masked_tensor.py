"""torch.masked.MaskedTensor: reductions and elementwise ops that skip masked-out values."""

import torch
from torch.masked import masked_tensor

torch.manual_seed(0)
data = torch.arange(6.0).reshape(2, 3)
mask = data > 1
mt = masked_tensor(data, mask)
total = mt.sum()
assert float(total.get_data()) == 2 + 3 + 4 + 5
doubled = mt * 2
assert torch.equal(doubled.get_data()[mask], data[mask] * 2)
assert torch.equal(doubled.get_mask(), mask)
print("OK masked_tensor")
