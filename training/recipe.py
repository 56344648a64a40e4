"""What every design is trained with: input normalisation, targets and losses. One place, so the
multi-task network and the single-task pair are trained by the same recipe and the comparison is fair."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from training.augment import VERSION as AUGMENTATION_VERSION
from training.networks import NUM_AGES

# ImageNet statistics in 0..255 units, RGB: what the pretrained MobileFaceNet expects.
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)
COLOUR_ORDER = "RGB"
# The soft age target widens with age: a year matters more at 4 than at 60, and labels of older faces
# are less certain. 1 year wide at birth, 2 at 20, 4 at 60.
AGE_SIGMA_AT_BIRTH = 1.0
AGE_SIGMA_PER_YEAR = 0.05
L1_WEIGHT = 0.1  # weight of |expected age - age| (years) beside the distribution loss
# The variance term of the mean-variance loss (0.05 x the predicted distribution's variance) was tried and
# not kept: it pulled the estimates of faces from 40 on further towards the middle ages (docs/models.md).
# Children and teenagers are where the age estimate was weakest and they are under a fifth of the
# training faces: each epoch shows every face under YOUNG_AGE this many times.
YOUNG_AGE = 20
YOUNG_REPEATS = 2
# Showing the over-60s twice as well was tried and not kept: it lifted every estimate by about half a year,
# so the 60+ band came nearer by less than the bands from 10 to 59 went further (docs/models.md).
# The age bands MAE is reported by, in training and in the evaluation.
MAE_BANDS = "0-2,3-9,10-19,20-39,40-59,60+"
# FairFace's age groups: the age-group accuracy of every source is scored on them (exact ages mapped in)
AGE_GROUPS = "0-2,3-9,10-19,20-29,30-39,40-49,50-59,60-69,70+"
# The trunk every network of both designs is built on (training.trunks), chosen on validation by
# training.trunk_probe (docs/evaluation/trunk_probe.json): on frozen features FaceRes at 160 x 160 was ahead
# of MobileFaceNet by 4.5 points of gender and 6 of age group, FairFace's validation counting half.
TRUNK = "faceres"
# How many times each epoch shows a face of each source. FairFace is the only source in the wild and a
# quarter of the faces; its weight was chosen on validation (training.trunk_probe): showing it twice or
# three times gave no lower validation loss than once.
SOURCE_WEIGHTS = {"utkface": 1.0, "aaf": 1.0, "fairface": 1.0}
# What each source's validation counts for in the loss that picks a run's best epoch and stops it early:
# the in-the-wild source as much as the two portrait sources together.
VALIDATION_WEIGHTS = {"utkface": 0.25, "aaf": 0.25, "fairface": 0.5}


def describe() -> dict:
    """The recipe's targets and sampling, kept in every run's checkpoint and exported network, so that two
    networks trained for the same steps with different recipes are not taken for networks trained alike."""
    return {"age_sigma": [AGE_SIGMA_AT_BIRTH, AGE_SIGMA_PER_YEAR], "l1_weight": L1_WEIGHT,
            "repeats": {f"under {YOUNG_AGE}": YOUNG_REPEATS},
            "augmentation": AUGMENTATION_VERSION, "trunk": TRUNK, "source_weights": SOURCE_WEIGHTS,
            "validation_weights": VALIDATION_WEIGHTS, "age_ranges": "interval likelihood"}


def to_tensor(crops_rgb: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) RGB -> normalised float (N, 3, H, W)."""
    x = torch.from_numpy(np.ascontiguousarray(crops_rgb)).float()
    x = (x - torch.tensor(MEAN)) / torch.tensor(STD)
    return x.permute(0, 3, 1, 2).contiguous()


def epoch_order(ages: np.ndarray, rng: np.random.Generator, sources: np.ndarray | None = None,
                weights: dict[str, float] | None = None) -> np.ndarray:
    """The training faces of one epoch, shuffled: every face under YOUNG_AGE repeated, and each source's faces
    shown `weights` (default SOURCE_WEIGHTS) times, a fraction of a time by a draw of that share of its faces."""
    young = np.flatnonzero(ages < YOUNG_AGE)
    faces = np.concatenate([np.arange(len(ages))] + [young] * (YOUNG_REPEATS - 1))
    if sources is not None:
        weights = np.array([(weights or SOURCE_WEIGHTS).get(str(source), 1.0) for source in sources])[faces]
        whole = np.floor(weights).astype(int)
        extra = rng.random(len(faces)) < weights - whole
        faces = np.repeat(faces, whole + extra)
    return rng.permutation(faces)


def age_sigma(ages: torch.Tensor) -> torch.Tensor:
    return AGE_SIGMA_AT_BIRTH + AGE_SIGMA_PER_YEAR * ages.float()


def soft_age_targets(ages: torch.Tensor) -> torch.Tensor:
    """A discretised Gaussian around each true age, over 0..100+, as wide as age_sigma (label
    distribution learning)."""
    grid = torch.arange(NUM_AGES, dtype=torch.float32)
    centre = ages.float().clamp(max=NUM_AGES - 1)[:, None]
    target = torch.exp(-0.5 * ((grid[None] - centre) / age_sigma(centre)) ** 2)
    return target / target.sum(dim=1, keepdim=True)


def expected_age(age_logits: torch.Tensor) -> torch.Tensor:
    return (torch.softmax(age_logits, dim=1) * torch.arange(NUM_AGES, dtype=age_logits.dtype)).sum(dim=1)


def interval_loss(age_logits: torch.Tensor, age_ranges: torch.Tensor) -> torch.Tensor:
    """-log of the predicted distribution's mass inside each face's age range (youngest, oldest), per face:
    the likelihood of a label that says "somewhere from 20 to 29"."""
    grid = torch.arange(age_logits.shape[1])
    inside = (grid[None] >= age_ranges[:, :1]) & (grid[None] <= age_ranges[:, 1:].clamp(max=age_logits.shape[1] - 1))
    log_p = F.log_softmax(age_logits, dim=1)
    return -torch.logsumexp(log_p.masked_fill(~inside, float("-inf")), dim=1)


def age_loss(age_logits: torch.Tensor, ages: torch.Tensor, reduction: str = "mean",
             age_ranges: torch.Tensor | None = None) -> torch.Tensor:
    """Per face, for an exact age: KL divergence to the soft target plus the weighted absolute error; for an
    age range (age_ranges' youngest < oldest): the interval loss. Reduction "mean" or "none"."""
    distribution = F.kl_div(F.log_softmax(age_logits, dim=1), soft_age_targets(ages), reduction="none").sum(dim=1)
    per_face = distribution + L1_WEIGHT * (expected_age(age_logits) - ages.float()).abs()
    if age_ranges is not None:
        ranged = age_ranges[:, 0] < age_ranges[:, 1]
        per_face = torch.where(ranged, interval_loss(age_logits, age_ranges), per_face)
    return per_face if reduction == "none" else per_face.mean()


def gender_loss(gender_logit: torch.Tensor, genders: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(gender_logit, genders.float(), reduction=reduction)
