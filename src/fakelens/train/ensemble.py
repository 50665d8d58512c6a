"""``fakelens ensemble CONFIG``: trained detectors -> one combined, calibrated checkpoint.

The members' logits on the recipe's *validation* data (held-out real faces, their SBI fakes and the
ready-made fakes' ``val`` share: never a test set) fit the combination. ``stack``: logistic
regression on the logits (weights, bias; calibrated by construction). ``average``: the mean logit,
then temperature scaling. ``max``: the largest of the members' rescaled logits ``w_k l_k + c_k``,
each member's scale and offset fitted by L2-penalised log-loss - for specialists that each see only some
forgeries (an SBI model and a GAN model: stacking their logits fits neither, and one shared scale
makes the less confident member's real faces outrank the other's fakes). The
same data chose the members' own checkpoints, so validation figures are slightly optimistic; the
benchmarks' test sets are what measure the result.

``balance: family`` weighs the fit so that every forgery family counts the same (SBI, each
ready-made generator family, lip-sync, animation) and the reals as much as all fakes together:
otherwise the validation set's make-up decides, and SBI pairs of every real face outnumber a few
dozen diffusion faces, so a member that sees only those gets an offset that silences it.
``family+source`` also gives every real source (folder) an equal share of the reals' half: a
member that reads one kind of real photo (studio portraits) as fake is then charged for it as much
as for the plentiful video frames. ``kind`` weighs every forgery *kind* the same (blend/swap,
reenactment/lip-sync, entire-face GAN, entire-face diffusion: ``data/families.py``), each kind's
share split equally among its families: with ``family`` five GAN families outweigh the one
self-blend family five to one, and a member that reads studio portraits as generated wins.

``video:`` adds a second combination for faces of video files, fitted on the validation faces that
come from ``data.manifest`` plus animated generated portraits (``train/ensemble_video.py``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from pydantic import BaseModel, ConfigDict

from fakelens import __version__
from fakelens.data.families import forgery_kind
from fakelens.errors import ConfigError
from fakelens.metrics import binary_metrics
from fakelens.models.checkpoint import read_config, save_checkpoint
from fakelens.models.detector import build_model, parse_config, resolve_checkpoint, shipped_models
from fakelens.models.ensemble import LogitEnsemble
from fakelens.train.calibrate import (
    THRESHOLD_RULE,
    expected_calibration_error,
    fit_temperature,
    per_source_threshold,
    real_quantile_threshold,
)
from fakelens.train.config import DATA_PATHS, DataSection
from fakelens.train.data import load_faces, validation_images
from fakelens.train.ensemble_video import VideoFit, fit_video_combination
from fakelens.yamlconfig import read_config_yaml, resolve_path, validate


class EnsembleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    out_dir: Path
    members: list[str]  # checkpoint folders (relative to this file) or shipped model names
    mode: Literal["stack", "average", "max"] = "stack"
    data: DataSection  # only its validation share is read
    seed: int = 0
    half: bool = False  # store fp16 weights (half the size)
    # pooled: the 95th percentile of all clean validation reals; per-source: also no source (folder)
    # of 20+ validation reals above 5 % (train/calibrate.py:per_source_threshold)
    threshold_rule: Literal["pooled", "per-source"] = "pooled"
    # sample weights of the fit (module docstring)
    balance: Literal["none", "family", "family+source", "kind"] = "none"
    # a second combination for faces of video files (train/ensemble_video.py); none: one for all
    video: VideoFit | None = None

    @classmethod
    def from_yaml(cls, path: str | Path) -> EnsembleConfig:
        path = Path(path)
        # base: merged; paths relative to the file that wrote them, shipped model names kept
        paths = ("out_dir", "members", *(f"data.{key}" for key in DATA_PATHS))
        cfg = validate(cls, read_config_yaml(path, paths, names=shipped_models()), path)
        if cfg.data.cache_dir is not None:  # the default, written by no file: beside the recipe
            cfg.data.cache_dir = Path(resolve_path(cfg.data.cache_dir, path.parent))
        if len(cfg.members) < 2:
            raise ConfigError("members: an ensemble needs at least two", path)
        if cfg.balance != "none" and cfg.mode == "average":  # said now, not after the members have run
            raise ConfigError("balance needs mode: max or stack (average fits one temperature)", path)
        if cfg.video is not None and cfg.mode == "average":
            raise ConfigError("video needs mode: max or stack (average fits one temperature)", path)
        if cfg.video is not None and cfg.data.manifest is None:
            raise ConfigError("video needs data.manifest (the video validation faces are its rows)", path)
        if cfg.video is not None and cfg.data.val_manifest is not None:
            raise ConfigError(
                "video reads the validation faces of data.manifest; a data.val_manifest fold is not supported",
                path,
            )
        return cfg


def _member(spec: str) -> tuple[dict, torch.nn.Module, Path]:
    folder = resolve_checkpoint(spec)
    cfg = read_config(folder)
    return cfg, build_model({**cfg, "calibration": None}, folder), folder  # raw logits: stacking rescales


@torch.inference_mode()
def _logits(net: torch.nn.Module, x: torch.Tensor, batch: int = 64) -> np.ndarray:
    net.eval()
    return torch.cat([net(x[i : i + batch]) for i in range(0, len(x), batch)]).float().numpy()


def family_weights(
    families: np.ndarray, sources: np.ndarray | None = None, by_kind: bool = False
) -> np.ndarray:
    """Per-sample weights, mean 1: the reals half the total (with ``sources``, each real source an
    equal share of it), each fake family an equal share of the other half; ``by_kind``: each forgery
    kind (``data/families.py:FORGERY_KINDS``) an equal share, split equally among its families."""
    w = np.zeros(len(families))
    reals = families == "real"
    if sources is None:
        w[reals] = 0.5 / max(reals.sum(), 1)
    else:
        real_sources = sorted(set(sources[reals]))
        for src in real_sources:
            sel = reals & (sources == src)
            w[sel] = 0.5 / len(real_sources) / sel.sum()
    fake_families = sorted(set(families[~reals]))
    kinds = {fam: forgery_kind(fam) if by_kind else fam for fam in fake_families}
    n_kinds = len(set(kinds.values()))
    for fam in fake_families:
        sel = families == fam
        siblings = sum(1 for k in kinds.values() if k == kinds[fam])
        w[sel] = 0.5 / n_kinds / siblings / sel.sum()
    return w * len(families) / w.sum()


def fit_combination(
    logits: np.ndarray, labels: np.ndarray, mode: str, sample_weight: np.ndarray | None = None
) -> dict:
    """``{"weights", "bias", "offsets"}`` over member logits (N, K)."""
    k = logits.shape[1]
    if sample_weight is not None and mode == "average":
        raise ConfigError("balance needs mode: max or stack (average fits one temperature)")
    if mode == "stack":
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1.0, max_iter=1000).fit(logits, labels, sample_weight=sample_weight)
        return {
            "weights": lr.coef_[0].astype(np.float64),
            "bias": float(lr.intercept_[0]),
            "offsets": np.zeros(k),
        }
    if mode == "max":
        return _fit_max(logits, labels, sample_weight)
    cal = fit_temperature(logits.mean(axis=1), labels)
    return {"weights": np.full(k, cal["scale"] / k), "bias": 0.0, "offsets": np.zeros(k)}


def _fit_max(logits: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray | None = None) -> dict:
    """Per-member scale and offset under the max, by L2-penalised log-loss (L-BFGS), started from
    one Platt scaling of the plain max; the fit is kept only if it lowers the loss. Scales are
    fitted as ``exp(u)``: a negative scale under a max would read "fake" from a member saying real."""
    from sklearn.linear_model import LogisticRegression

    k = logits.shape[1]
    platt = LogisticRegression(C=1.0, max_iter=1000).fit(
        logits.max(axis=1, keepdims=True), labels, sample_weight=sample_weight
    )
    a, b = float(platt.coef_[0, 0]), float(platt.intercept_[0])
    if a <= 0:
        raise ConfigError(
            "mode: max does not fit: the members' largest logit does not rise with fakeness on the "
            "validation data; use mode: stack"
        )
    x = torch.from_numpy(logits).double()
    y = torch.from_numpy(labels).double()
    sw = (
        torch.ones(len(labels), dtype=torch.float64)
        if sample_weight is None
        else torch.from_numpy(sample_weight)
    )
    u = torch.full((k,), float(np.log(a)), dtype=torch.float64, requires_grad=True)
    c = torch.full((k,), b, dtype=torch.float64, requires_grad=True)
    # the L2 term on the scales is scikit-learn's LogisticRegression(C=1) penalty: without it a member
    # that separates the validation data perfectly gets an unbounded scale
    penalty = 0.5 / len(labels)

    def loss_of() -> torch.Tensor:
        w = u.exp()
        z = (x * w + c).max(dim=1).values
        return F.binary_cross_entropy_with_logits(z, y, weight=sw) + penalty * (w**2).sum()

    with torch.no_grad():
        start = float(loss_of())
    opt = torch.optim.LBFGS([u, c], max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        end = float(loss_of())
    if not end < start:  # keep the Platt start
        return {"weights": np.full(k, a), "bias": b, "offsets": np.zeros(k)}
    return {"weights": u.detach().exp().numpy(), "bias": 0.0, "offsets": c.detach().numpy()}


def per_family_auc(
    families: np.ndarray, labels: np.ndarray, logits: np.ndarray, combined: np.ndarray
) -> dict:
    """Each fake family's validation AUC against every validation real: per member and combined."""
    reals = families == "real"
    out = {}
    for fam in sorted(set(families[~reals])):
        sel = reals | (families == fam)
        aucs = [binary_metrics(labels[sel], logits[sel, k])["auc"] for k in range(logits.shape[1])]
        out[fam] = {
            "fakes": int((families == fam).sum()),
            "members": [round(a, 4) for a in aucs],
            "combined": round(binary_metrics(labels[sel], combined[sel])["auc"], 4),
        }
    return out


def member_wins(logits: np.ndarray, fit: dict) -> list[int]:
    """How many samples each member decides under a ``max`` (0 = a member that never counts)."""
    rescaled = logits * fit["weights"] + fit["offsets"]
    return np.bincount(rescaled.argmax(axis=1), minlength=logits.shape[1]).tolist()


PER_SOURCE_RULE = (
    "the largest of the 95th percentiles of p(fake) over all clean validation real faces and over each "
    "source folder's (20+ faces): 5 % false alarms or fewer on every validation source"
)


def _threshold(cfg: EnsembleConfig, net, faces, pre, report: dict) -> dict:
    if cfg.threshold_rule == "pooled":
        return {
            "threshold": round(real_quantile_threshold(net, faces.val.crops, pre), 4),
            "threshold_rule": THRESHOLD_RULE,
        }
    threshold, table = per_source_threshold(net, faces.val.crops, faces.val.paths, pre)
    report["val_false_alarms_per_source"] = table
    return {"threshold": round(threshold, 4), "threshold_rule": PER_SOURCE_RULE}


def _balance(balance: str, families: np.ndarray, sources: np.ndarray) -> np.ndarray:
    return family_weights(
        families, sources if balance == "family+source" else None, by_kind=balance == "kind"
    )


def _fit_video(cfg: EnsembleConfig, faces, val, logits: np.ndarray, nets: list, pre) -> tuple[dict, dict]:
    def logits_of(frames: list[np.ndarray]) -> np.ndarray:
        x = pre.to_tensor(frames)
        return np.stack([_logits(net, x) for net in nets], axis=1)

    return fit_video_combination(
        cfg.video,
        cfg.data.manifest,
        faces,
        val,
        logits,
        logits_of,
        fit=lambda x, y, w: fit_combination(x, y, cfg.mode, w),
        weigh=lambda fam, src: _balance(cfg.video.balance, fam, src),
        seed=cfg.seed,
    )


def build_ensemble(cfg: EnsembleConfig) -> Path:
    t0 = time.time()
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    members = [_member(m) for m in cfg.members]
    first_cfg, _, first_folder = members[0]
    pre, face, _ = parse_config(first_cfg, first_folder)
    for mcfg, _, folder in members[1:]:
        m_pre, m_face, _ = parse_config(mcfg, folder)
        if m_pre != pre or m_face.fingerprint() != face.fingerprint():
            raise ConfigError(
                f"member '{folder}' frames or preprocesses faces differently from '{first_folder}'; "
                "ensemble members must share face framing and input"
            )
    faces = load_faces(cfg.data, face, out)
    val = validation_images(faces, cfg.data, pre, cfg.seed)
    families = val.families
    labels = val.y.numpy().astype(int)
    logits = np.stack([_logits(net, val.x) for _, net, _ in members], axis=1)
    sample_weight = None
    if cfg.balance != "none":
        sample_weight = _balance(cfg.balance, families, val.sources)
    fit = fit_combination(logits, labels, cfg.mode, sample_weight)
    video, video_report = None, None
    if cfg.video is not None:
        video, video_report = _fit_video(cfg, faces, val, logits, [net for _, net, _ in members], pre)
    weights, bias, offsets = fit["weights"], fit["bias"], fit["offsets"].tolist()
    specs = [
        {"architecture": c["architecture"], "model_kwargs": c.get("model_kwargs", {})} for c, _, _ in members
    ]
    video_kwargs = None
    if video is not None:
        video_kwargs = {
            **{k: np.asarray(video[k]).tolist() for k in ("weights", "offsets")},
            "bias": float(video["bias"]),
        }
    net = LogitEnsemble(specs, weights.tolist(), bias, cfg.mode, offsets, video_kwargs)
    for slot, (_, member, _) in zip(net.members, members, strict=True):
        slot.load_state_dict(member.state_dict())
    net.eval()
    combined = net.combine(torch.from_numpy(logits).float()).numpy()
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    report = {
        "members": [
            {
                "name": c.get("name", str(f)),
                "folder": str(f),
                "val_auc": binary_metrics(labels, sig(logits[:, k]))["auc"],
            }
            for k, (c, _, f) in enumerate(members)
        ],
        "mode": cfg.mode,
        "weights": [round(float(w), 6) for w in weights],
        "bias": round(bias, 6),
        "offsets": [round(float(c), 6) for c in offsets],
        "val_wins": member_wins(logits, fit) if cfg.mode == "max" else None,
        "val_auc": binary_metrics(labels, sig(combined))["auc"],
        "val_ece": round(expected_calibration_error(labels, sig(combined)), 4),
        "val_samples": {"real": int((labels == 0).sum()), "fake": int((labels == 1).sum())},
        "balance": cfg.balance,
        "val_auc_per_family": per_family_auc(families, labels, logits, combined),
    }
    if video_report is not None:
        data = video_report
        video_combined = net.combine(torch.from_numpy(data["logits"]).float(), video=True).numpy()
        report["video"] = {
            **data["report"],
            "val_wins": member_wins(data["logits"], video) if cfg.mode == "max" else None,
            "val_auc": binary_metrics(data["labels"], sig(video_combined))["auc"],
            "val_auc_per_family": per_family_auc(
                data["families"], data["labels"], data["logits"], video_combined
            ),
        }
    config = {
        "name": cfg.name,
        "architecture": "ensemble",
        "model_kwargs": {
            "members": specs,
            "mode": cfg.mode,
            "offsets": offsets,
            **({"video": video_kwargs} if video_kwargs is not None else {}),
        },
        "preprocess": {"input_size": pre.input_size, "mean": list(pre.mean), "std": list(pre.std)},
        "face": face.to_dict(),
        **_threshold(cfg, net, faces, pre, report),
        "ensemble": report,
        "members": [{"name": c.get("name"), "training": c.get("training")} for c, _, _ in members],
        "fakelens_version": __version__,
        "seconds": round(time.time() - t0, 1),
    }
    folder = save_checkpoint(out / "model", net, config, half=cfg.half)
    (out / "ensemble.json").write_text(json.dumps(report, indent=2) + "\n")
    return folder
