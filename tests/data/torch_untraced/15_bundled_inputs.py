"""torch.utils.bundled_inputs: attach example inputs to a scripted module."""

import torch
import torch.utils.bundled_inputs as bundled_inputs

torch.manual_seed(0)
scripted = torch.jit.script(torch.nn.Linear(3, 2))
sample = torch.randn(1, 3)
bundled_inputs.augment_model_with_bundled_inputs(scripted, [(sample,)])
inputs = scripted.get_all_bundled_inputs()
assert len(inputs) == 1 and torch.equal(inputs[0][0], sample)
assert torch.allclose(scripted(*inputs[0]), scripted(sample))
print("OK bundled_inputs")
