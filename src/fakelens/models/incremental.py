"""Incremental forgery detection: add a forgery task to a trained detector without forgetting the
earlier ones (``method: {name: incremental}``, ``fakelens train RECIPE --continue-from MODEL``).

After SUR-LID ("Stacking Brick by Brick", Cheng et al., CVPR 2025, arXiv 2411.11396):

- *Sparse Uniform Replay* (SUR), run after each task on the selected checkpoint: per class (real,
  fake) the pooled features are ranked by their dot product with the class centroid, the range is
  cut into equal-width chunks, and each chunk keeps its most *robust* face (highest cosine between
  the features of the face and of its 2x2 grid-shuffled copy) and the face least like that one. The
  exemplars (file paths, and for a self-blend the seed that remakes it) go to ``memory.json`` beside
  the weights; the next task replays them in every batch.
- *Latent isolation*: a supervised-contrastive loss (temperature 0.1) on the pooled features with
  task-specific labels (task t's reals and fakes are classes of their own), so each task's
  distribution takes its own "brick" of the latent space.
- *Distillation* against the previous model (the teacher, frozen): feature distillation (MSE of
  L2-normalised pooled features) and knowledge distillation of the earlier heads' logits.

What differs from the paper: instead of the paper's decision-alignment step (a logistic head fitted
on the isolated domains) each task keeps its own head (``ForgeryClassifier(heads=N)``) and the
verdict's logit is their maximum, so a new task never rewrites an earlier one's decision; the
centroid is the plain mean, not a moving average; the budget is ``exemplars_per_class`` per class
*per task* (the paper: 504 per class) and the paper's feature augmentation ("re-filling") is left
out. The first task may train with this method too (no teacher, no replay): it writes the memory
the next task needs. ``plain`` with ``--continue-from`` is naive fine-tuning, the baseline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from fakelens.models.methods import Method, register_method

MEMORY = "memory.json"


class IncrementalOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exemplars_per_class: int = Field(64, ge=2, multiple_of=2)  # SUR memory of this task per class (pairs)
    replay_per_batch: int = Field(16, ge=1)  # exemplars added to every training batch
    kd_weight: float = Field(1.0, ge=0)  # earlier heads' logits against the teacher's
    fd_weight: float = Field(10.0, ge=0)  # pooled features against the teacher's (the paper's 10)
    # supervised-contrastive bricks; the paper: 4 over 10 epochs a task. Its loss is ~log(batch) ~3.5
    # against BCE ~0.5, so 0.1 keeps the detection loss in charge of a short fine-tune (set before
    # any figure was measured)
    isolation_weight: float = Field(0.1, ge=0)
    temperature: float = Field(2.0, gt=0)  # of the logit distillation


@dataclass
class ReplayBank:
    """Exemplars of earlier tasks as the model sees them: images, labels, and each one's head."""

    images: torch.Tensor  # (M, 3, S, S)
    labels: torch.Tensor  # (M,) float 0/1
    heads: torch.Tensor  # (M,) int64: the task (head) each exemplar belongs to

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Previous:
    """What a continued run knows of the model it continues (train/continual.py builds it)."""

    folder: Path
    tasks: list[str]  # the earlier tasks, in order; head k is task k
    teacher: torch.nn.Module | None  # frozen copy of the previous model (incremental only)
    memory: list[dict] = field(default_factory=list)  # memory.json's entries
    bank: ReplayBank | None = None
    spec: str = ""  # as the recipe or --continue-from named it (a shipped name or a path)


def supcon_loss(features: torch.Tensor, classes: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al. 2020, SUR-LID's isolation): every image is pulled
    towards the others of its class and pushed from the rest; images alone in their class add 0."""
    z = F.normalize(features.float(), dim=1)
    sim = z @ z.T / temperature
    self_mask = torch.eye(len(z), dtype=torch.bool, device=z.device)
    sim = sim.masked_fill(self_mask, float("-inf"))
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    positive = (classes[:, None] == classes[None, :]) & ~self_mask
    count = positive.sum(1)
    has = count > 0
    if not has.any():
        return features.sum() * 0.0
    mean_log = log_prob.masked_fill(~positive, 0.0).sum(1)[has] / count[has]
    return -mean_log.mean()


def grid_shuffle(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The images with their 2x2 quadrants permuted (SUR's robustness probe), one draw per batch."""
    s = x.shape[-1] // 2
    blocks = [x[..., :s, :s], x[..., :s, s : 2 * s], x[..., s : 2 * s, :s], x[..., s : 2 * s, s : 2 * s]]
    order = torch.randperm(4, generator=generator).tolist()
    if order == [0, 1, 2, 3]:
        order = [3, 2, 1, 0]
    b = [blocks[i] for i in order]
    return torch.cat([torch.cat(b[:2], dim=-1), torch.cat(b[2:], dim=-1)], dim=-2)


def sparse_uniform_replay(features: np.ndarray, robustness: np.ndarray, budget: int) -> list[int]:
    """SUR's choice among one class's images: ``budget // 2`` equal-width chunks of the dot product
    with the class centroid, each giving its most robust image and the image least like it."""
    n = len(features)
    if n <= budget:
        return list(range(n))
    z = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    score = features @ features.mean(axis=0)
    if np.ptp(score) == 0:  # no spread to cut into chunks: an even pick
        return np.linspace(0, n - 1, budget).round().astype(int).tolist()
    edges = np.linspace(score.min(), score.max(), budget // 2 + 1)
    chunk = np.clip(np.searchsorted(edges, score, side="right") - 1, 0, budget // 2 - 1)
    chosen: list[int] = []
    for c in range(budget // 2):
        members = np.flatnonzero(chunk == c)
        if not len(members):
            continue
        best = int(members[np.argmax(robustness[members])])
        chosen.append(best)
        others = members[members != best]
        if len(others):
            chosen.append(int(others[np.argmin(z[others] @ z[best])]))
    return chosen


@register_method(
    "incremental",
    options=IncrementalOptions,
    architectures=("sbi-effnet-*", "effnet-*", "xception", "tiny-cnn"),  # ForgeryClassifier's heads
    requires=("forward_features", "forward_heads", "head"),
)
class Incremental(Method):
    multi_process = False  # the teacher and the replay draws live in one process
    grows_heads = True

    def __init__(self, options=None, seed: int = 0, epochs: int = 1):
        super().__init__(options, seed, epochs)
        self.previous: Previous | None = None
        self.step = 0  # replay draws are seeded by (seed, step): a resumed run draws the same

    def attach_previous(self, previous: Previous) -> None:
        self.previous = previous

    @property
    def new_head(self) -> int:
        return len(self.previous.tasks) if self.previous is not None else 0

    def _replay(self, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        bank = self.previous.bank if self.previous is not None else None
        if bank is None or not len(bank):
            return None
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.step)
        idx = torch.randint(len(bank), (self.opts.replay_per_batch,), generator=g)
        images = bank.images[idx]
        flip = torch.rand(len(idx), generator=g) < 0.5
        images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        return images.to(device), bank.labels[idx].to(device), bank.heads[idx].to(device)

    def loss(self, model, batch):
        x, y = batch["image"], batch["label"]
        heads_of = torch.full_like(y, self.new_head, dtype=torch.int64)
        replay = self._replay(x.device)
        self.step += 1
        if replay is not None:
            x = torch.cat([x, replay[0].to(memory_format=torch.channels_last)])
            y, heads_of = torch.cat([y, replay[1]]), torch.cat([heads_of, replay[2]])
        pooled = model.forward_head(model.forward_features(x), pre_logits=True)
        logits = model.forward_heads(pooled)  # (N, tasks)
        real = y < 0.5
        # every head calls a real real (its heads' mean: each image weighs 1); a fake is its own
        # task's head's to find
        zeros = torch.zeros_like(logits[real])
        real_loss = (
            F.binary_cross_entropy_with_logits(logits[real], zeros, reduction="none").mean(dim=1).sum()
        )
        own = logits[~real].gather(1, heads_of[~real, None]).squeeze(1)
        fake_loss = F.binary_cross_entropy_with_logits(own, torch.ones_like(own), reduction="sum")
        loss = (real_loss + fake_loss) / len(y)
        if self.opts.isolation_weight:
            loss = loss + self.opts.isolation_weight * supcon_loss(pooled, heads_of * 2 + y.long())
        teacher = self.previous.teacher if self.previous is not None else None
        if teacher is not None:
            with torch.no_grad():
                t_pooled = teacher.forward_head(teacher.forward_features(x), pre_logits=True)
                t_logits = teacher.forward_heads(t_pooled)
            if self.opts.fd_weight:
                fd = F.mse_loss(F.normalize(pooled, dim=1), F.normalize(t_pooled, dim=1), reduction="sum")
                loss = loss + self.opts.fd_weight * fd / len(x)
            if self.opts.kd_weight:
                tau = self.opts.temperature
                old, target = logits[:, : t_logits.shape[1]] / tau, torch.sigmoid(t_logits / tau)
                # binary KL to the teacher (cross-entropy less the target's entropy): 0 when matched
                kd = F.binary_cross_entropy_with_logits(old, target) - F.binary_cross_entropy_with_logits(
                    t_logits / tau, target
                )
                loss = loss + self.opts.kd_weight * kd * tau**2
        return loss

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"step": torch.tensor([self.step], dtype=torch.int64)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.step = int(state["step"][0]) if "step" in state else 0

    def after_training(
        self, model_dir: Path, model: torch.nn.Module, items, task: str, aligned=frozenset()
    ) -> None:
        """SUR on this task's training images with the selected weights; ``memory.json`` gets the
        earlier tasks' exemplars and this task's."""
        from fakelens.models.checkpoint import CONFIG, load_weights

        load_weights(model_dir, model)
        per_class = self.opts.exemplars_per_class
        entries = select_exemplars(model, items, per_class, self.new_head, task, self.seed, aligned)
        memory = [*(self.previous.memory if self.previous is not None else []), *entries]
        (model_dir / MEMORY).write_text(json.dumps(memory, indent=1) + "\n")
        cfg = json.loads((model_dir / CONFIG).read_text())
        cfg.setdefault("incremental", {})["memory"] = {"file": MEMORY, "exemplars": len(memory)}
        (model_dir / CONFIG).write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


@torch.inference_mode()
def _features(model, images: list[np.ndarray], pre, generator, batch: int = 32):
    """Pooled features of each image and the cosine to its grid-shuffled copy's."""
    model.eval()
    feats, robust = [], []
    for i in range(0, len(images), batch):
        x = pre.to_tensor(images[i : i + batch])
        f = model.forward_head(model.forward_features(x), pre_logits=True).float()
        g = model.forward_head(model.forward_features(grid_shuffle(x, generator)), pre_logits=True).float()
        feats.append(f.numpy())
        robust.append(F.cosine_similarity(f, g, dim=1).numpy())
    return np.concatenate(feats), np.concatenate(robust)


def select_exemplars(
    model, items, per_class: int, head: int, task: str, seed: int = 0, aligned=frozenset()
) -> list[dict]:
    """This task's SUR memory among ``items`` (an ``SBIPairs``: its reals, one fixed self-blend of
    each when it makes them, its ready-made fakes): entries naming each file (and blend seed);
    ``aligned``: files that are crops already (prepare/synth output), read back as they are."""
    from fakelens.data.sbi_dataset import FIXED_FAKE_STREAM

    aligned = {str(p) for p in aligned}

    def entry(path: str, label: int, kind: str, **extra) -> dict:
        e = {"task": task, "head": head, "label": label, "kind": kind, "path": path, **extra}
        return {**e, "aligned": True} if path in aligned else e

    g = torch.Generator().manual_seed(seed + 99)
    reals = list(items.faces.crops)
    entries = [entry(p, 0, "real") for p in items.faces.paths]
    fakes, fake_entries = [], []
    if items.make_sbi:
        for i, path in enumerate(items.faces.paths):
            fakes.append(items.fixed_fake(i, 0).fake)
            fake_entries.append(
                entry(path, 1, "self-blend", blend_seed=[int(items.seed), FIXED_FAKE_STREAM, i, 0])
            )
    if items.fakes is not None:
        fakes += list(items.fakes.crops)
        fake_entries += [entry(p, 1, "ready-made") for p in items.fakes.paths]
    chosen = []
    for images, rows in ((reals, entries), (fakes, fake_entries)):
        if not images:
            continue
        feats, robust = _features(model, images, items.preprocess, g)
        chosen += [rows[i] for i in sparse_uniform_replay(feats, robust, per_class)]
    return chosen
