"""What every design is trained with: input normalisation, targets and losses. One place, so the
multi-task network and the single-task pair are trained by the same recipe and the comparison is fair."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from training.networks import NUM_AGES

# ImageNet statistics in 0..255 units, RGB: what the pretrained MobileFaceNet expects.
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)
COLOUR_ORDER = "RGB"
AGE_SIGMA = 2.0  # years: width of the soft age target
L1_WEIGHT = 0.1  # weight of |expected age - age| (years) beside the distribution loss


def to_tensor(crops_rgb: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) RGB -> normalised float (N, 3, H, W)."""
    x = torch.from_numpy(np.ascontiguousarray(crops_rgb)).float()
    x = (x - torch.tensor(MEAN)) / torch.tensor(STD)
    return x.permute(0, 3, 1, 2).contiguous()


def soft_age_targets(ages: torch.Tensor) -> torch.Tensor:
    """A discretised Gaussian around each true age, over 0..100+ (label distribution learning)."""
    grid = torch.arange(NUM_AGES, dtype=torch.float32)
    target = torch.exp(-0.5 * ((grid[None] - ages.float().clamp(max=NUM_AGES - 1)[:, None]) / AGE_SIGMA) ** 2)
    return target / target.sum(dim=1, keepdim=True)


def expected_age(age_logits: torch.Tensor) -> torch.Tensor:
    return (torch.softmax(age_logits, dim=1) * torch.arange(NUM_AGES, dtype=age_logits.dtype)).sum(dim=1)


def age_loss(age_logits: torch.Tensor, ages: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """KL divergence to the soft target plus the weighted absolute error; reduction "mean" or "none"."""
    distribution = F.kl_div(F.log_softmax(age_logits, dim=1), soft_age_targets(ages), reduction="none").sum(dim=1)
    per_face = distribution + L1_WEIGHT * (expected_age(age_logits) - ages.float()).abs()
    return per_face if reduction == "none" else per_face.mean()


def gender_loss(gender_logit: torch.Tensor, genders: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(gender_logit, genders.float(), reduction=reduction)
