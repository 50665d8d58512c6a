"""Leave-one-generator-out for still-image synthesis detectors (issue 12's protocol).

A detector that learned one generator's fingerprint fails on the next generator a user meets. For
each generator family in turn, the probe recipe (``method: linear-probe``) is refitted with that
family's fakes left out of training and validation, its penalty chosen on the remaining validation
data, and tested on *every* image of the left-out family against held-out real photos. The frozen
backbone's features are computed once (every training face through the photo pipeline, as the
recipe does) and reused by every fold, so the whole protocol costs one feature pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fakelens.data.families import FAMILIES, family_of  # noqa: F401  (re-exported)
from fakelens.metrics import binary_metrics
from fakelens.train.probe import fit_linear, pooled_features, processed_copies


@dataclass
class FoldResult:
    family: str
    n_fake: int
    n_real: int
    auc: float
    caught: float  # share of the family's fakes above the fold's threshold (5 % of val reals)
    chosen_c: float
    # the fold's scores, standardised on its validation reals (val_real, real, fake): what fused_folds
    # combines; not written to summaries
    scores: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def record(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "scores"}


def leave_one_generator_out(
    model,
    pre,
    faces,
    heldout_reals,
    all_fakes,
    c_grid,
    copies: int = 2,
    seed: int = 0,
    video_share: float = 0.0,
) -> list[FoldResult]:
    """``faces``: the recipe's TrainingFaces (train/val reals and fakes); ``heldout_reals``: a
    FaceSet of test reals; ``all_fakes``: a FaceSet of every fake (each family's test images)."""
    fam_train = np.array([family_of(p) for p in faces.fakes_train.paths])
    fam_val = np.array([family_of(p) for p in faces.fakes_val.paths])
    fam_all = np.array([family_of(p) for p in all_fakes.paths])
    x_real = pooled_features(
        model, processed_copies(faces.train.crops, copies, seed, video_share), pre, "real training faces"
    )
    x_fake = pooled_features(
        model,
        processed_copies(faces.fakes_train.crops, copies, seed + 1, video_share),
        pre,
        "fake training faces",
    )
    fam_fake = np.tile(fam_train, copies)
    x_val_real = pooled_features(model, faces.val.crops, pre, "validation reals")
    x_val_fake = pooled_features(model, faces.fakes_val.crops, pre, "validation fakes")
    x_test_real = pooled_features(model, heldout_reals.crops, pre, "held-out reals")
    x_test_fake = pooled_features(model, all_fakes.crops, pre, "every fake")
    results = []
    for family in sorted(set(fam_all) - {"unknown"}):
        keep = fam_fake != family
        x = np.concatenate([x_real, x_fake[keep]])
        y = np.r_[np.zeros(len(x_real)), np.ones(int(keep.sum()))]
        val_keep = fam_val != family
        xv = np.concatenate([x_val_real, x_val_fake[val_keep]])
        yv = np.r_[np.zeros(len(x_val_real)), np.ones(int(val_keep.sum()))]
        best = None
        for c in c_grid:
            clf = fit_linear(x, y, c)
            auc = binary_metrics(yv.astype(int), clf.decision_function(xv))["auc"]
            if best is None or auc > best[0]:
                best = (auc, c, clf)
        _, c, clf = best
        val_s = clf.decision_function(x_val_real)
        mu, sd = float(val_s.mean()), float(val_s.std()) or 1.0
        z = {
            "val_real": (val_s - mu) / sd,
            "real": (clf.decision_function(x_test_real) - mu) / sd,
            "fake": (clf.decision_function(x_test_fake[fam_all == family]) - mu) / sd,
        }
        results.append(_fold(family, z, c))
    return results


def _fold(family: str, z: dict[str, np.ndarray], c: float) -> FoldResult:
    real_s, fake_s = z["real"], z["fake"]
    threshold = np.quantile(z["val_real"], 0.95)
    labels = np.r_[np.zeros(len(real_s)), np.ones(len(fake_s))].astype(int)
    auc = binary_metrics(labels, np.r_[real_s, fake_s])["auc"]
    return FoldResult(family, len(fake_s), len(real_s), auc, float((fake_s > threshold).mean()), c, z)


def fused_folds(runs: list[list[FoldResult]]) -> list[FoldResult]:
    """Several recipes' folds (same faces, same families) as one detector: per fold the largest of
    the members' scores, each standardised on that fold's validation reals. The ensemble's ``max``
    rule with each member's scale and offset set from reals alone: fitting them on fakes would need
    fakes of the family the fold leaves out. ``chosen_c`` is the first member's."""
    out = []
    for folds in zip(*runs, strict=True):
        if len({f.family for f in folds}) != 1 or len({len(f.scores["fake"]) for f in folds}) != 1:
            raise ValueError("fused_folds needs the same families and faces in every run")
        z = {k: np.max([f.scores[k] for f in folds], axis=0) for k in ("val_real", "real", "fake")}
        out.append(_fold(folds[0].family, z, folds[0].chosen_c))
    return out
