"""torch.ao.quantization.quantize_fx: FX graph mode dynamic quantization of a Linear."""

import torch
from torch.ao.quantization import QConfigMapping, default_dynamic_qconfig
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU()).eval()
x = torch.randn(4, 16)
mapping = QConfigMapping().set_global(default_dynamic_qconfig)
prepared = prepare_fx(model, mapping, example_inputs=(x,))
quantized = convert_fx(prepared)
ref, out = model(x), quantized(x)
assert not torch.equal(ref, out)
assert torch.allclose(ref, out, atol=0.1), (ref - out).abs().max()
print("OK quantize_fx")
