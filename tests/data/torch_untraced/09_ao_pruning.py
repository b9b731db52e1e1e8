"""torch.ao.pruning.WeightNormSparsifier: block sparsity on a Linear layer."""

import torch
from torch.ao.pruning import WeightNormSparsifier

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(8, 8))
sparsifier = WeightNormSparsifier(sparsity_level=0.5, sparse_block_shape=(1, 4), zeros_per_block=4)
sparsifier.prepare(model, config=[{"tensor_fqn": "0.weight"}])
sparsifier.step()
sparsifier.squash_mask()
zeros = int((model[0].weight == 0).sum())
assert zeros == 32, zeros
print("OK ao_pruning")
