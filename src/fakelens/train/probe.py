"""``method: {name: linear-probe}``: a linear classifier on a frozen ImageNet backbone's features.

UnivFD (Ojha et al., CVPR 2023, "Towards Universal Fake Image Detectors that Generalize Across
Generative Models") keeps a large pretrained network frozen and fits only a linear layer on its
pooled features: a representation not trained to separate real from fake cannot overfit one
generator's fingerprint, so it transfers to generators it never saw. Differences: the backbone is
ImageNet EfficientNet-Lite (the strongest pretrained network that ships offline; UnivFD uses CLIP
ViT-L/14), the classifier is L2-penalised logistic regression (scikit-learn, its penalty picked by
validation AUC) rather than SGD on a linear layer, and every training face, real and fake, is put
through :class:`~fakelens.forge.photo_pipeline.PhotoPipeline` (``copies`` draws per face) so the
probe cannot learn JPEG-vs-PNG. The fitted standardisation and weights are folded into the model's
one linear head: the checkpoint is an ordinary one of its architecture.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import track

from fakelens.forge.photo_pipeline import PhotoPipeline
from fakelens.metrics import binary_metrics
from fakelens.models.checkpoint import replace_dir, save_checkpoint
from fakelens.preprocess import Preprocess
from fakelens.train.calibrate import THRESHOLD_RULE, fit_temperature

console = Console(stderr=True)


@torch.inference_mode()
def pooled_features(model, crops, pre: Preprocess, what: str, batch: int = 64) -> np.ndarray:
    """(N, C) pooled features of the frozen backbone (the head's input)."""
    model.eval()
    out = []
    for i in track(range(0, len(crops), batch), description=f"features: {what}", console=console):
        x = pre.to_tensor(list(crops[i : i + batch]))
        out.append(model.forward_head(model.forward_features(x), pre_logits=True).float().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.head.in_features), np.float32)


def processed_copies(crops: np.ndarray, copies: int, seed: int, video_share: float = 0.0) -> list[np.ndarray]:
    """``copies`` pipeline draws of every crop, each from its own seed (face index, copy)."""
    pipe = PhotoPipeline(video_share=video_share)
    return [
        pipe(crop, np.random.default_rng([seed, i, k])) for k in range(copies) for i, crop in enumerate(crops)
    ]


def fit_linear(x: np.ndarray, y: np.ndarray, c: float):
    """L2-penalised logistic regression on standardised features, both classes weighing the same
    (a few hundred fakes beside thousands of reals)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000, class_weight="balanced"))
    return clf.fit(x, y)


def _fold_into_head(clf, head: torch.nn.Linear) -> None:
    """``w . (x - mu) / sigma + b`` as one linear layer on the raw pooled features."""
    scaler, lr = clf[0], clf[1]
    w = lr.coef_[0] / scaler.scale_
    b = lr.intercept_[0] - float(np.dot(w, scaler.mean_))
    with torch.no_grad():
        head.weight.copy_(torch.as_tensor(w, dtype=torch.float32).view(1, -1))
        head.bias.fill_(float(b))


def fit_probe(cfg, faces, pre: Preprocess, model, ckpt_config: dict, out: Path) -> Path:
    """Fit the head on frozen features; select the penalty by validation AUC; save like ``train``."""
    opts = cfg.resolve_method()
    t0 = time.time()
    for p in model.parameters():
        p.requires_grad_(False)
    seed = cfg.train.seed
    x_parts, y_parts = [], []
    for label, fs in ((0, faces.train), (1, faces.fakes_train)):
        crops = processed_copies(fs.crops, opts.copies, seed + label, opts.video_share)
        x_parts.append(pooled_features(model, crops, pre, f"{'fake' if label else 'real'} training faces"))
        y_parts.append(np.full(len(crops), label))
    x_train, y_train = np.concatenate(x_parts), np.concatenate(y_parts)
    # validation: the faces as they are (what a user uploads) and one processed draw of each
    val_crops = [*faces.val.crops, *faces.fakes_val.crops]
    y_val = np.r_[np.zeros(len(faces.val)), np.ones(len(faces.fakes_val))]
    x_val = pooled_features(model, val_crops, pre, "validation faces")
    x_val_proc = pooled_features(
        model, processed_copies(np.stack(val_crops), 1, seed + 7, opts.video_share), pre, "processed"
    )
    history, best = [], None
    for c in opts.c_grid:
        clf = fit_linear(x_train, y_train, c)
        aucs = [binary_metrics(y_val, clf.decision_function(x))["auc"] for x in (x_val, x_val_proc)]
        record = {
            "C": c,
            "val_auc": aucs[0],
            "val_auc_processed": aucs[1],
            "score": float(np.mean(aucs)),
            "seconds": round(time.time() - t0, 1),
        }
        history.append(record)
        console.print(f"C={c:g}: validation AUC {aucs[0]:.4f} as given, {aucs[1]:.4f} processed")
        if best is None or record["score"] > best[0]["score"]:
            best = (record, clf)
    record, clf = best
    _fold_into_head(clf, model.head)
    logits = torch.as_tensor(clf.decision_function(x_val), dtype=torch.float32)
    val = {
        "loss": float(torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.as_tensor(y_val)))
    }
    m = binary_metrics(y_val.astype(int), torch.sigmoid(logits).numpy(), threshold=0.5)
    val |= {k: m[k] for k in ("auc", "eer", "eer_threshold", "acc")}
    calibration = fit_temperature(logits.numpy(), y_val)
    # the validation reals' calibrated scores, from the logits already computed (no second pass)
    real_p = torch.sigmoid(logits[: len(faces.val)] * calibration["scale"] + calibration["bias"]).numpy()
    best_cfg = dict(ckpt_config)
    best_cfg["calibration"] = calibration
    best_cfg["threshold"] = round(float(np.quantile(real_p, 0.95)), 4)
    best_cfg["threshold_rule"] = THRESHOLD_RULE
    best_cfg["metrics"] = {"val_frame_level": val}
    best_cfg["training"] = {
        "recipe": json.loads(json.dumps(cfg.model_dump(mode="json"))),
        "train_faces": len(faces.train),
        "val_faces": len(faces.val),
        "train_ready_made_fakes": len(faces.fakes_train),
        "val_ready_made_fakes": len(faces.fakes_val),
        "skipped": len(faces.train.skipped) + len(faces.val.skipped),
        "method": {"name": "linear-probe", **opts.model_dump(mode="json"), "chosen_C": record["C"]},
        "penalties": history,
        "seconds": round(time.time() - t0, 1),
        "selection": "the L2 penalty with the best mean validation AUC (faces as given and processed)",
    }
    (out / "metrics.jsonl").write_text("".join(json.dumps(h) + "\n" for h in history))
    replace_dir(save_checkpoint(out / "model.tmp", model, best_cfg), out / "model")
    console.print(
        f"linear probe: C={record['C']:g}, validation AUC {val['auc']:.4f}; "
        f"{time.time() - t0:.0f} s; checkpoint: {out / 'model'}"
    )
    return out / "model"
