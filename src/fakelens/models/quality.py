"""Quality-centric training (Song et al., "Not All Fakes are Equal: A Quality-Centric Framework for
Deepfake Detection", arXiv 2411.05335) as a method any architecture can use: ``method: {name: quality}``.

- *Rated fakes*: each training face trains on a fixed set of ``fakes_per_face`` (K) self-blends
  (fixed seeds, ``SBIPairs.fixed_fake``), so a rating always describes a fake that is trained on;
  augmentation still changes every epoch. The paper rates a fixed set of fakes too (FF++ videos);
  plain SBI redraws every fake each epoch, which nothing could rate.
- *Forgery quality score* per fake: ``FQS = rank(d) + alpha * rank(q)``. Dynamic ``d``: the fake's
  running (EMA) training loss, higher = harder (FreDA'd epochs do not count: that was another
  image). Static ``q``: how close the forgery stays to its source photo. The paper uses ArcFace
  identity similarity of a swap and its source; fakelens's fakes are self-blends (one person, so
  identity similarity is ~1 for all) and no ArcFace model is reachable offline, so ``q`` is the
  PSNR of the fake against its real (a subtler blend scores higher), computed once.
- *Pacing*: at epoch ``t`` of ``T`` the tilt ``lambda_t`` rises linearly from 0 to ``max_pace``;
  each face trains on one of its K fakes drawn with weight ``1 + lambda_t (2 r - 1)`` (``r`` the
  fake's FQS rank in [0, 1]), and the faces are ordered by weighted sampling *without replacement*
  with the same weights on their chosen fake's rank: at ``lambda = 0`` an exact uniform
  permutation, later harder fakes more often and earlier. Every face trains once per epoch, so
  reals and fakes stay balanced (the paper's pacing function was not available; this is ours).
- *FreDA on easy fakes*: the chosen fakes in the lowest ``easy_share`` of FQS get FreDA (low
  frequencies of the real, high of the fake: ``forge/freda.py``).
The scores are the method's state, saved with every ``last/`` checkpoint: a resumed run continues them.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from fakelens.models.methods import Method, register_method


class QualityOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alpha: float = Field(1.0, ge=0)  # weight of the static quality rank against the dynamic one
    easy_share: float = Field(0.3, ge=0, lt=1)  # lowest-FQS share of an epoch's fakes that get FreDA
    max_pace: float = Field(0.8, ge=0, le=1)  # final tilt of sampling towards hard fakes
    ema: float = Field(0.5, ge=0, lt=1)  # running-loss smoothing across epochs
    freda_cutoff: float = Field(0.1, gt=0, lt=1)  # FreDA's low-pass radius (share of the spectrum)
    fakes_per_face: int = Field(4, ge=1)  # K fixed, rated self-blends per training face


def rank01(v: np.ndarray) -> np.ndarray:
    """Ranks scaled to [0, 1], of any shape; ties share their mean rank, so fakes not yet trained on
    (one imputed loss) are not ordered by their position."""
    from scipy.stats import rankdata  # scikit-learn's dependency

    flat = np.asarray(v, dtype=np.float64).ravel()
    return ((rankdata(flat) - 1) / max(len(flat) - 1, 1)).reshape(np.shape(v))


def psnr(fake: np.ndarray, real: np.ndarray) -> float:
    mse = np.mean((fake.astype(np.float64) - real.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-6)))


def weighted_permutation(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """All indices, drawn one by one without replacement with probability proportional to
    ``weights`` among those left (Efraimidis-Spirakis keys); equal weights: a uniform permutation."""
    keys = np.log(rng.random(len(weights))) / np.maximum(weights, 1e-9)
    return np.argsort(-keys, kind="stable")


@register_method("quality", options=QualityOptions, needs_sbi=True)
class QualityCurriculum(Method):
    multi_process = False  # each process would rate only its own share of the fakes (loss)

    def __init__(self, options=None, seed: int = 0, epochs: int = 1):
        super().__init__(options, seed, epochs)
        self.static: np.ndarray | None = None  # (faces, K) PSNR of each fixed fake
        self.dynamic: np.ndarray | None = None  # (faces, K) running loss; NaN until trained on
        self.variants = np.zeros(0, dtype=np.int64)  # the fake each face trains on this epoch
        self.easy = np.zeros(0, dtype=np.int64)  # faces whose fake gets FreDA this epoch
        self._item_weight = np.zeros(0)  # each face's draw weight in this epoch's order
        self._sum = self._count = None

    def pace(self, epoch: int) -> float:
        return self.opts.max_pace * min(epoch / max(self.epochs - 1, 1), 1.0)

    def scores(self) -> np.ndarray:
        known = ~np.isnan(self.dynamic)
        d = np.where(known, self.dynamic, self.dynamic[known].mean() if known.any() else 0.0)
        return rank01(d) + self.opts.alpha * rank01(self.static)

    def rate(self, dataset) -> None:
        """Static scores of every face's K fixed fakes, exactly as the dataset will draw them."""
        k = self.opts.fakes_per_face
        blends = ((dataset.fixed_fake(i, v) for v in range(k)) for i in range(len(dataset)))
        self.static = np.array([[psnr(b.fake, b.target) for b in row] for row in blends])
        self.dynamic = np.full_like(self.static, np.nan)

    def plan(self, epoch: int) -> None:
        """This epoch's fake per face and the easy ones (deterministic in seed, epoch and scores)."""
        n, k = self.static.shape
        pace = self.pace(epoch)
        fqs = self.scores()
        w = 1.0 + pace * (2 * rank01(fqs) - 1)
        rng = np.random.default_rng([self.seed, 31337, epoch])
        cum = np.cumsum(np.maximum(w, 1e-9), axis=1)
        self.variants = np.minimum((cum < rng.random(n)[:, None] * cum[:, -1:]).sum(axis=1), k - 1)
        chosen = fqs[np.arange(n), self.variants]
        if epoch == 0 or np.isnan(self.dynamic).all():
            self.easy = np.zeros(0, dtype=np.int64)
        else:
            self.easy = np.argsort(chosen, kind="stable")[: int(self.opts.easy_share * n)]
        self._item_weight = 1.0 + pace * (2 * rank01(chosen) - 1)

    def start_epoch(self, epoch: int, model, dataset) -> None:
        if self.static is None:
            self.rate(dataset)
        if self.static.shape != (len(dataset), self.opts.fakes_per_face):
            raise ValueError(
                f"method quality: saved scores are for {self.static.shape} fakes, the run has "
                f"{len(dataset)} faces x {self.opts.fakes_per_face} (resume with the same data and options)"
            )
        self._sum, self._count = np.zeros_like(self.static), np.zeros_like(self.static)
        self.plan(epoch)
        dataset.plan(variants=self.variants, freda=self.easy, freda_cutoff=self.opts.freda_cutoff)

    def order(self, epoch: int, n: int) -> list[int]:
        if n != len(self._item_weight):
            raise ValueError(f"method quality: planned {len(self._item_weight)} items, the epoch has {n}")
        rng = np.random.default_rng([self.seed, 4242, epoch])
        return weighted_permutation(self._item_weight, rng).tolist()

    def loss(self, model, batch):
        y = batch["label"]
        per = F.binary_cross_entropy_with_logits(model(batch["image"]), y, reduction="none")
        index, variant = batch["index"].numpy(), batch["variant"].numpy()
        rated = (batch["kind"].numpy() == 1) & (variant >= 0) & ~np.isin(index, self.easy)
        np.add.at(self._sum, (index[rated], variant[rated]), per.detach().numpy()[rated])
        np.add.at(self._count, (index[rated], variant[rated]), 1)
        return per.mean()

    def end_epoch(self, epoch: int) -> None:
        seen = self._count > 0
        mean = np.where(seen, self._sum / np.maximum(self._count, 1), np.nan)
        first = np.isnan(self.dynamic) & seen
        self.dynamic[first] = mean[first]
        both = ~np.isnan(self.dynamic) & seen & ~first
        self.dynamic[both] = self.opts.ema * self.dynamic[both] + (1 - self.opts.ema) * mean[both]

    def report(self) -> dict:
        return {
            **super().report(),
            "fakes_rated": 0 if self.static is None else int(self.static.size),
            "freda_items_last_epoch": len(self.easy),
        }

    def state_dict(self) -> dict[str, torch.Tensor]:
        if self.static is None:
            return {}
        return {
            "static": torch.from_numpy(self.static.copy()),
            "dynamic": torch.from_numpy(self.dynamic.copy()),
        }

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if state:
            self.static, self.dynamic = state["static"].numpy().copy(), state["dynamic"].numpy().copy()
