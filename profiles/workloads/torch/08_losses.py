"""Loss functions checked against hand-written formulas: CrossEntropy (weights, label
smoothing, ignore_index, soft targets), NLL, BCE/BCEWithLogits (pos_weight), MSE, L1,
SmoothL1, Huber, KLDiv, CosineEmbedding, MarginRanking, TripletMargin, CTC; reductions."""

import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    logits = torch.randn(8, 5, requires_grad=True)
    target = torch.randint(0, 5, (8,))
    log_probs = logits.log_softmax(dim=1)
    manual_ce = -log_probs[torch.arange(8), target].mean()
    ce = nn.CrossEntropyLoss()(logits, target)
    assert torch.allclose(ce, manual_ce) and torch.allclose(
        F.nll_loss(log_probs, target), manual_ce
    )
    per_sample = F.cross_entropy(logits, target, reduction="none")
    assert per_sample.shape == (8,) and torch.allclose(
        per_sample.sum(), F.cross_entropy(logits, target, reduction="sum")
    )
    weight = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0])
    manual_weighted = (per_sample * weight[target]).sum() / weight[target].sum()
    assert torch.allclose(F.cross_entropy(logits, target, weight=weight), manual_weighted)
    smoothing = 0.1
    smooth_target = torch.full((8, 5), smoothing / 5).scatter_(
        1, target[:, None], 1 - smoothing + smoothing / 5
    )
    manual_smooth = -(smooth_target * log_probs).sum(1).mean()
    assert torch.allclose(F.cross_entropy(logits, target, label_smoothing=smoothing), manual_smooth)
    assert torch.allclose(
        F.cross_entropy(logits, smooth_target), manual_smooth
    )  # probability targets
    ignored = target.clone()
    ignored[:3] = -100
    assert torch.allclose(F.cross_entropy(logits, ignored), per_sample[3:].mean())
    ce.backward()
    assert torch.allclose(
        logits.grad, (log_probs.exp() - F.one_hot(target, 5)).detach() / 8, atol=1e-6
    )
    seq_logits, seq_target = torch.randn(2, 5, 7), torch.randint(0, 5, (2, 7))  # (N, C, L)
    assert F.cross_entropy(seq_logits, seq_target).dim() == 0

    raw, labels = torch.randn(10), torch.randint(0, 2, (10,)).float()
    p = torch.sigmoid(raw)
    manual_bce = -(labels * p.log() + (1 - labels) * (1 - p).log()).mean()
    assert torch.allclose(nn.BCELoss()(p, labels), manual_bce, atol=1e-6)
    assert torch.allclose(nn.BCEWithLogitsLoss()(raw, labels), manual_bce, atol=1e-6)
    pos_weight = torch.tensor(3.0)
    manual_pw = -(pos_weight * labels * p.log() + (1 - labels) * (1 - p).log()).mean()
    assert torch.allclose(
        F.binary_cross_entropy_with_logits(raw, labels, pos_weight=pos_weight), manual_pw, atol=1e-6
    )

    pred, true = torch.randn(20), torch.randn(20)
    diff = pred - true
    assert torch.allclose(nn.MSELoss()(pred, true), (diff**2).mean())
    assert torch.allclose(nn.L1Loss()(pred, true), diff.abs().mean())
    smooth = torch.where(diff.abs() < 1, 0.5 * diff**2, diff.abs() - 0.5).mean()
    assert torch.allclose(nn.SmoothL1Loss()(pred, true), smooth)
    huber = torch.where(diff.abs() < 2, 0.5 * diff**2, 2 * (diff.abs() - 1)).mean()
    assert torch.allclose(nn.HuberLoss(delta=2.0)(pred, true), huber)

    q_log = torch.randn(4, 6).log_softmax(1)
    p_target = torch.randn(4, 6).softmax(1)
    manual_kl = (p_target * (p_target.log() - q_log)).sum() / 4
    assert torch.allclose(
        nn.KLDivLoss(reduction="batchmean")(q_log, p_target), manual_kl, atol=1e-6
    )

    a, b = torch.randn(6, 8), torch.randn(6, 8)
    y = torch.tensor([1, -1, 1, 1, -1, -1])
    cos = F.cosine_similarity(a, b)
    manual_cos = torch.where(y == 1, 1 - cos, cos.clamp(min=0)).mean()
    assert torch.allclose(nn.CosineEmbeddingLoss()(a, b, y), manual_cos, atol=1e-6)
    s1, s2 = torch.randn(6), torch.randn(6)
    assert torch.allclose(
        nn.MarginRankingLoss(margin=0.5)(s1, s2, y.float()),
        (-y * (s1 - s2) + 0.5).clamp(min=0).mean(),
    )
    anchor, positive, negative = torch.randn(3, 6, 8).unbind(0)
    manual_triplet = (
        (F.pairwise_distance(anchor, positive) - F.pairwise_distance(anchor, negative) + 1)
        .clamp(min=0)
        .mean()
    )
    assert torch.allclose(
        nn.TripletMarginLoss(margin=1.0)(anchor, positive, negative), manual_triplet, atol=1e-5
    )

    # CTC: 12 frames, batch 2, 6 symbols (0 = blank)
    ctc_log_probs = torch.randn(12, 2, 6).log_softmax(2).requires_grad_()
    targets = torch.tensor([[1, 2, 3], [4, 4, 0]])
    ctc = nn.CTCLoss(blank=0)(ctc_log_probs, targets, torch.tensor([12, 10]), torch.tensor([3, 2]))
    ctc.backward()
    assert ctc.item() > 0 and torch.isfinite(ctc_log_probs.grad).all()
    assert nn.PoissonNLLLoss()(torch.zeros(3), torch.zeros(3)).item() == 1.0
    print(f"OK 08_losses ce={ce.item():.4f} ctc={ctc.item():.4f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
