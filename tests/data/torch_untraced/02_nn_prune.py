"""torch.nn.utils.prune: L1 unstructured and global pruning of Linear weights."""

import torch
import torch.nn.utils.prune as prune

torch.manual_seed(0)
layer = torch.nn.Linear(16, 8)
prune.l1_unstructured(layer, name="weight", amount=0.5)
assert hasattr(layer, "weight_mask")
zeros = int((layer.weight == 0).sum())
assert zeros == 64, zeros
kept = layer.weight[layer.weight_mask.bool()].abs().min()
dropped = layer.weight_orig[~layer.weight_mask.bool()].abs().max()
assert kept >= dropped
prune.remove(layer, "weight")
assert not hasattr(layer, "weight_mask") and int((layer.weight == 0).sum()) == 64
print("OK nn_prune")
