"""Quality-centric training (Song et al., "Not All Fakes are Equal: A Quality-Centric Framework for
Deepfake Detection", arXiv 2411.05335) as a strategy any recipe can use: ``train.strategy: quality``.

- *Forgery quality score* per fake: ``FQS = rank(d) + alpha * rank(q)``. Dynamic ``d``: the fake's
  running (EMA) training loss, higher = harder. Static ``q``: how close the forgery stays to its
  source photo. The paper uses ArcFace identity similarity of a swap and its source; fakelens's
  training fakes are self-blends (source and target are one person, so identity similarity is ~1
  for all), and no ArcFace model is reachable offline, so ``q`` is the PSNR of a fixed-seed fake
  against its real (a subtler blend scores higher) - a full-reference fidelity, computed once.
- *Pacing*: epoch ``t`` of ``T`` draws items with probability ``1 + lambda_t * (2 r - 1)``, ``r`` the
  FQS rank in [0, 1] and ``lambda_t`` rising linearly from 0 to ``max_pace``: uniform at first,
  harder fakes more and more often (the paper's pacing function was not available; this is ours).
- *FreDA on easy fakes*: the lowest ``easy_share`` of FQS get FreDA (low frequencies of the real,
  high of the fake: ``forge/freda.py``), which removes their obvious colour/low-frequency traces.
State (``q``, ``d``) is saved in the run folder after every epoch, so a resumed run continues it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch.nn.functional as F

from fakelens.train.strategies import Plain

STATE = "quality-state.npz"


def _rank01(v: np.ndarray) -> np.ndarray:
    r = np.argsort(np.argsort(v, kind="stable"), kind="stable").astype(np.float64)
    return r / max(len(v) - 1, 1)


def blend_fidelity(dataset, seed: int) -> np.ndarray:
    """PSNR (dB) of one fixed-seed SBI fake against its real, for every training face."""
    from fakelens.forge.sbi import self_blend

    out = np.zeros(len(dataset.faces))
    for i in range(len(out)):
        rng = np.random.default_rng([seed, 424_242, i])
        blend = self_blend(dataset.faces.crops[i], dataset.faces.landmarks[i], rng, dataset.sbi)
        mse = np.mean((blend.fake.astype(np.float64) - blend.target.astype(np.float64)) ** 2)
        out[i] = 10 * np.log10(255.0**2 / max(mse, 1e-6))
    return out


class QualityCurriculum(Plain):
    def __init__(self, cfg, out: Path):
        super().__init__(cfg, out)
        self.opts = cfg.quality
        self.static: np.ndarray | None = None
        self.dynamic: np.ndarray | None = None
        self._sum: np.ndarray | None = None
        self._count: np.ndarray | None = None
        self.easy: np.ndarray = np.zeros(0, dtype=int)

    def start_epoch(self, epoch: int, model, dataset) -> None:
        if not dataset.make_sbi:
            raise ValueError("train.strategy quality rates self-blended fakes: set data.sbi: true")
        n = len(dataset)
        path = self.out / STATE
        if self.static is None:
            if path.is_file():  # resume: continue the scores of the interrupted run
                z = np.load(path)
                self.static, self.dynamic = z["static"], z["dynamic"]
            else:
                self.static, self.dynamic = blend_fidelity(dataset, self.cfg.train.seed), np.full(n, np.nan)
        self._sum, self._count = np.zeros(n), np.zeros(n)
        fqs = self.scores()
        seen = ~np.isnan(self.dynamic)
        if epoch == 0 or not seen.any():
            self.easy = np.zeros(0, dtype=int)
        else:
            self.easy = np.argsort(fqs, kind="stable")[: int(self.opts.easy_share * n)]
        dataset.freda_items = frozenset(int(i) for i in self.easy)
        dataset.freda_cutoff = self.opts.freda_cutoff

    def scores(self) -> np.ndarray:
        known = ~np.isnan(self.dynamic)
        d = np.where(known, self.dynamic, self.dynamic[known].mean() if known.any() else 0.0)
        return _rank01(d) + self.opts.alpha * _rank01(self.static)

    def order(self, epoch: int, n: int) -> list[int]:
        total = max(self.cfg.train.epochs - 1, 1)
        pace = self.opts.max_pace * min(epoch / total, 1.0)
        r = _rank01(self.scores())
        p = 1.0 + pace * (2 * r - 1)
        rng = np.random.default_rng([self.cfg.train.seed, 31337, epoch])
        return rng.choice(n, size=n, replace=True, p=p / p.sum()).tolist()

    def loss(self, model, x, y, index=None):
        per = F.binary_cross_entropy_with_logits(model(x), y, reduction="none")
        fake = (y > 0).numpy()
        idx = index.numpy()[fake]
        np.add.at(self._sum, idx, per.detach().numpy()[fake])
        np.add.at(self._count, idx, 1)
        return per.mean()

    def end_epoch(self, epoch: int) -> None:
        seen = self._count > 0
        mean = np.where(seen, self._sum / np.maximum(self._count, 1), np.nan)
        first = np.isnan(self.dynamic) & seen
        self.dynamic[first] = mean[first]
        both = ~np.isnan(self.dynamic) & seen & ~first
        self.dynamic[both] = self.opts.ema * self.dynamic[both] + (1 - self.opts.ema) * mean[both]
        np.savez(self.out / STATE, static=self.static, dynamic=self.dynamic)

    def report(self) -> dict:
        return {
            "name": "quality",
            **self.opts.model_dump(mode="json"),
            "freda_items_last_epoch": len(self.easy),
        }
