"""Age-bucket schemes, all derived from one distribution over single years of age.

A scheme is a list of inclusive year ranges; the last may be open ("60+"). The schemes the app shows
start at 0 and leave no gaps, so the bucket shown always holds the age shown. Only the evaluation's
Adience protocol (ADIENCE) leaves gaps (it drops ages 3, 7, 14, ...); there a bucket's probability is
the distribution's mass inside it, renormalised over the buckets so it sums to one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)|(\+))\s*$")
OPEN_END = 10_000  # where an open-ended bucket ends: beyond every age a bucket may name


@dataclass(frozen=True)
class BucketScheme:
    labels: tuple[str, ...]
    ranges: tuple[tuple[int, int], ...]  # inclusive; an open-ended bucket ends at OPEN_END

    @classmethod
    def parse(cls, text: str, gaps_allowed: bool = False) -> "BucketScheme":
        """Read '0-2,3-7,...,60+'. Ranges must ascend without overlap; only the last may be open; unless
        `gaps_allowed`, they start at 0, each follows the one before, and the last is open."""
        labels, ranges = [], []
        parts = [p for p in text.split(",") if p.strip()]
        for i, part in enumerate(parts):
            match = _RANGE.match(part)
            if not match:
                raise ValueError(f"age bucket {part.strip()!r} is not of the form 'A-B' or 'A+'")
            low = int(match.group(1))
            open_end = match.group(3) is not None
            if open_end and i != len(parts) - 1:
                raise ValueError(f"only the last age bucket may be open-ended, not {part.strip()!r}")
            high = OPEN_END if open_end else int(match.group(2))
            largest = low if open_end else max(low, high)
            if largest >= OPEN_END:
                raise ValueError(f"age bucket {part.strip()!r}: {largest} is too large for an age (at most "
                                 f"{OPEN_END - 1}); end the buckets with an open one, like '100+'")
            if high < low or (ranges and low <= ranges[-1][1]):
                raise ValueError(f"age buckets must ascend without overlap: {text!r}")
            labels.append(f"{low}+" if open_end else f"{low}-{high}")
            ranges.append((low, high))
        if len(ranges) < 2:
            raise ValueError(f"an age-bucket scheme needs at least two buckets: {text!r}")
        if not gaps_allowed:
            uncovered = [f"{a + 1}-{b - 1}" if b - a > 2 else f"{a + 1}"
                         for (_, a), (b, _) in zip([(0, -1), *ranges], ranges) if b != a + 1]
            if uncovered:
                raise ValueError(f"age buckets must start at 0 and leave no gap, so that every age has its bucket; "
                                 f"{text!r} leaves out {', '.join(uncovered)}")
            if ranges[-1][1] != OPEN_END:
                raise ValueError(f"the last age bucket must be open-ended (like '60+'), so that every age has its "
                                 f"bucket: {text!r}")
        return cls(tuple(labels), tuple(ranges))

    def __str__(self) -> str:
        return ",".join(self.labels)

    def membership(self, num_ages: int) -> np.ndarray:
        """(num_ages, buckets) 0/1 matrix; the last age stands for itself and everything older."""
        ages = np.arange(num_ages)
        return np.stack([(ages >= low) & (ages <= high) for low, high in self.ranges], axis=1).astype(np.float32)

    def probabilities(self, age_distribution: np.ndarray) -> np.ndarray:
        """Bucket probabilities (N, buckets) from single-year distributions (N, ages)."""
        mass = age_distribution @ self.membership(age_distribution.shape[1])
        return mass / np.maximum(mass.sum(axis=1, keepdims=True), 1e-12)

    def nearest(self, ages: np.ndarray) -> np.ndarray:
        """Index of the bucket holding each age in whole years; in a gap of the scheme, the closest bucket."""
        ages = np.asarray(ages, np.float64)
        low = np.array([r[0] for r in self.ranges], np.float64)
        high = np.array([r[1] for r in self.ranges], np.float64)
        distance = np.maximum(low - ages[..., None], 0) + np.maximum(ages[..., None] - high, 0)
        return distance.argmin(axis=-1)

    def index(self, ages: np.ndarray) -> np.ndarray:
        """Bucket index of each true age, -1 where the age falls in a gap of the scheme."""
        ages = np.asarray(ages)
        out = np.full(ages.shape, -1, np.int64)
        for i, (low, high) in enumerate(self.ranges):
            out[(ages >= low) & (ages <= high)] = i
        return out


DEFAULT = BucketScheme.parse("0-2,3-7,8-14,15-24,25-37,38-47,48-59,60+")
# The Adience benchmark's eight groups, gaps included: for evaluation only (DEFAULT closes its gaps).
ADIENCE = BucketScheme.parse("0-2,4-6,8-13,15-20,25-32,38-43,48-53,60+", gaps_allowed=True)
DECADES = BucketScheme.parse("0-9,10-19,20-29,30-39,40-49,50-59,60-69,70+")
NAMED = {"default": DEFAULT, "decades": DECADES}


def scheme(name_or_ranges: str) -> BucketScheme:
    """A named scheme ('default', 'decades') or one written out as '0-9,10-19,...,70+'."""
    if name_or_ranges == "adience":
        raise ValueError("'adience' leaves ages out of every bucket (3, 7, 14, ...); 'default' is the Adience "
                         "groups with the gaps closed")
    return NAMED.get(name_or_ranges) or BucketScheme.parse(name_or_ranges)
