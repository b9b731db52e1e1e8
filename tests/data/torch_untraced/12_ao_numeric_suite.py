"""torch.ao.ns._numeric_suite: compare float and dynamically quantized Linear weights."""

import torch
import torch.ao.ns._numeric_suite as ns

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(16, 8)).eval()
quantized = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
compared = ns.compare_weights(model.state_dict(), quantized.state_dict())
assert list(compared) == ["0._packed_params._packed_params"], list(compared)
float_w = compared["0._packed_params._packed_params"]["float"]
quant_w = compared["0._packed_params._packed_params"]["quantized"].dequantize()
assert torch.equal(float_w, model[0].weight)
assert 0 < (float_w - quant_w).abs().max() < 0.01
print("OK ao_numeric_suite")
