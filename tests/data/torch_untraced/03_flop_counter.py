"""torch.utils.flop_counter.FlopCounterMode: count the FLOPs of a matmul."""

import torch
from torch.utils.flop_counter import FlopCounterMode

torch.manual_seed(0)
a, b = torch.randn(8, 16), torch.randn(16, 32)
with FlopCounterMode(display=False) as counter:
    torch.mm(a, b)
assert counter.get_total_flops() == 2 * 8 * 16 * 32, counter.get_total_flops()
print("OK flop_counter")
