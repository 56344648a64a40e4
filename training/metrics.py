"""Evaluation metrics for gender and age, on numpy arrays. scikit-learn does the counting."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, roc_auc_score, roc_curve

from agegender.vision.buckets import BucketScheme
from agegender.vision.designs import expected_age, says_female


def per_class_rates(y_true: np.ndarray, y_pred: np.ndarray, labels: list) -> dict:
    """Precision, recall, F1, miss rate (FNR) and fall-out (FPR) of each class, one against the rest."""
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=list(range(len(labels))),
                                                                     zero_division=0)
    matrix = confusion_matrix(y_true, y_pred, labels=list(range(len(labels))))
    total = matrix.sum()
    out = {}
    for i, label in enumerate(labels):
        tp = matrix[i, i]
        fn = matrix[i].sum() - tp
        fp = matrix[:, i].sum() - tp
        tn = total - tp - fn - fp
        out[str(label)] = {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                           "fnr": float(fn / (tp + fn)) if tp + fn else 0.0,
                           "fpr": float(fp / (fp + tn)) if fp + tn else 0.0, "support": int(support[i])}
    return out


def expected_calibration_error(y_true: np.ndarray, p_positive: np.ndarray, bins: int = 10) -> tuple[float, list]:
    """ECE over equal-width bins of the predicted class's confidence, and the reliability table."""
    predicted = says_female(p_positive).astype(int)
    confidence = np.where(predicted == 1, p_positive, 1 - p_positive)
    correct = (predicted == y_true).astype(float)
    edges = np.linspace(0.5, 1.0, bins + 1)
    ece, table = 0.0, []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidence > low) & (confidence <= high) if low > 0.5 else (confidence >= low) & (confidence <= high)
        if inside.any():
            gap = abs(correct[inside].mean() - confidence[inside].mean())
            ece += inside.mean() * gap
            table.append({"low": float(low), "high": float(high), "count": int(inside.sum()),
                          "accuracy": float(correct[inside].mean()), "confidence": float(confidence[inside].mean())})
    return float(ece), table


def gender_metrics(genders: np.ndarray, p_female: np.ndarray, labels=("male", "female")) -> dict:
    predicted = says_female(p_female).astype(int)
    ece, reliability = expected_calibration_error(genders, p_female)
    fpr, tpr, _ = roc_curve(genders, p_female)
    return {"accuracy": float((predicted == genders).mean()), "per_class": per_class_rates(genders, predicted, list(labels)),
            "auc": float(roc_auc_score(genders, p_female)), "ece": ece, "reliability": reliability,
            "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist()}}


def bucket_metrics(ages: np.ndarray, age_distribution: np.ndarray, scheme: BucketScheme) -> dict:
    """Accuracy, per-class rates, confusion matrix and bucket distance. True ages in the scheme's gaps
    are left out (the Adience-style protocol); each prediction is the bucket the app shows: the one holding
    the age estimate in whole years."""
    truth = scheme.index(ages)
    kept = truth >= 0
    truth = truth[kept]
    predicted = scheme.nearest(np.rint(expected_age(age_distribution[kept])))
    distance = np.abs(predicted - truth)
    return {"scheme": str(scheme), "evaluated": int(kept.sum()), "dropped_in_gaps": int((~kept).sum()),
            "accuracy": float((predicted == truth).mean()), "distance_mean": float(distance.mean()),
            "distance_std": float(distance.std()), "per_class": per_class_rates(truth, predicted, list(scheme.labels)),
            "confusion": confusion_matrix(truth, predicted, labels=list(range(len(scheme.labels)))).tolist()}


def age_group_metrics(age_ranges: np.ndarray, age_distribution: np.ndarray, scheme: BucketScheme) -> dict:
    """Accuracy over age groups (FairFace's, for every source: an exact age is a range of one year), and how
    often the group shown is the true one or next to it; the group shown holds the estimate in whole years."""
    truth = scheme.index(np.asarray(age_ranges)[:, 0])
    predicted = scheme.nearest(np.rint(expected_age(age_distribution)))
    right = predicted == truth
    return {"scheme": str(scheme), "accuracy": float(right.mean()),
            "one_off_accuracy": float((np.abs(predicted - truth) <= 1).mean()),
            "by_group": group_means(right.astype(float), truth, scheme.labels),
            "confusion": confusion_matrix(truth, predicted, labels=list(range(len(scheme.labels)))).tolist()}


ADULT_AGE = 18  # sure answers are counted over faces whose true age is at least this (coverage)
CHILD_AGE = 12  # children's MAE is over faces whose true age is at most this


def age_errors(estimated_age: np.ndarray, true_ages: np.ndarray, age_classes: int) -> np.ndarray:
    """Estimate minus truth, in years, true ages capped at the last age class ("that age and over"): the
    one definition of an age error, whose mean absolute value is every MAE reported."""
    return np.asarray(estimated_age) - np.minimum(true_ages, age_classes - 1)


def mean_absolute_error(estimated_age: np.ndarray, true_ages: np.ndarray, age_classes: int) -> float:
    return float(np.abs(age_errors(estimated_age, true_ages, age_classes)).mean())


def age_metrics(ages: np.ndarray, age_distribution: np.ndarray) -> dict:
    errors = age_errors(expected_age(age_distribution), ages, age_distribution.shape[1])
    return {"mae": float(np.abs(errors).mean()), "errors": errors}


def group_means(values: np.ndarray, groups: np.ndarray, names) -> dict:
    """{name: {"n", "value"}}: the mean of values over each group index that occurs (groups[i] indexes names)."""
    return {str(name): {"n": int((groups == i).sum()), "value": float(values[groups == i].mean())}
            for i, name in enumerate(names) if (groups == i).any()}


def confident_answers(genders: np.ndarray, p_female: np.ndarray, confident: np.ndarray, true_ages: np.ndarray,
                      adult_age: int = ADULT_AGE) -> dict:
    """How the answers a design gives as sure fare: the share of adult faces (true age >= adult_age) it is
    sure of and how often those are right, and the same over every face."""
    right = says_female(p_female) == (genders == 1)
    adult = true_ages >= adult_age

    def accuracy(mask: np.ndarray) -> float | None:
        return float(right[mask].mean()) if mask.any() else None

    return {"adults": int(adult.sum()), "coverage_adults": float(confident[adult].mean()) if adult.any() else 0.0,
            "accuracy_adults": accuracy(confident & adult), "coverage_all": float(confident.mean()),
            "accuracy_all": accuracy(confident)}
