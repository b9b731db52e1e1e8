"""torch.nn.utils._per_sample_grad: per-sample gradients through expanded weights."""

import torch
from torch.nn.utils._per_sample_grad import call_for_per_sample_grads

torch.manual_seed(0)
layer = torch.nn.Linear(3, 2)
x = torch.randn(5, 3)
call_for_per_sample_grads(layer)(x).sum().backward()
grads = layer.weight.grad_sample
assert grads.shape == (5, 2, 3), grads.shape
# d(sum(W x + b))/dW for one sample is a row of ones times x.
assert torch.allclose(grads, x.unsqueeze(1).expand(5, 2, 3))
assert torch.allclose(layer.bias.grad_sample, torch.ones(5, 2))
print("OK per_sample_grad")
