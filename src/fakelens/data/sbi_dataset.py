"""Training items made on the fly from cached real faces: (real, its self-blended fake) pairs, and
optionally (real, a ready-made fake such as a GAN face drawn for it) pairs, as dict batches.

Each item is one real face and its own SBI fake, as in SBI's ``collate_fn``: the pair shares
identity, pose and post-augmentation, so the only difference the model can learn is the blend. A
ready-made fake gets the same augmentation draw as its real, so augmentation is never a cue.
Randomness is seeded by (seed, epoch, index): any epoch of any run can be reproduced exactly. A
curriculum may ``plan`` an epoch: which of a face's fixed fakes it trains on (seeded by (seed, index,
variant), the same every epoch, so they can be rated) and which fakes get FreDA.

An item, and a batch (items concatenated by ``collate_items``), is a dict of tensors with one row per
image: ``image`` (N, 3, S, S), ``label`` (N,) 0/1, ``kind`` (N,) 0 real / 1 self-blend / 2 ready-made,
``index`` (N,) the item it came from, ``variant`` (N,) which fixed fake (-1: drawn afresh, or none),
``fake_index`` (N,) which ready-made fake (its row in ``fakes``; -1 for every other image).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset

from fakelens.data.facecache import FaceSet
from fakelens.forge.augment import paired_augment, soften
from fakelens.forge.sbi import SBIConfig, self_blend
from fakelens.preprocess import Preprocess

REAL, SELF_BLEND, READY_MADE = 0, 1, 2
FIXED_FAKE_STREAM = 424_242  # seeds fixed fakes apart from the per-epoch draws


class SBIPairs(Dataset):
    def __init__(
        self,
        faces: FaceSet,
        preprocess: Preprocess,
        seed: int = 0,
        augment: bool = True,
        sbi: SBIConfig | None = None,
        make_sbi: bool = True,
        fakes: FaceSet | None = None,
        augment_kind: str = "camera",
    ):
        if not make_sbi and (fakes is None or len(fakes) == 0):
            raise ValueError("without SBI fakes, ready-made fakes are needed")
        self.faces = faces
        self.make_sbi = make_sbi
        self.augment_kind = augment_kind
        self.fakes = fakes if fakes is not None and len(fakes) else None
        self.preprocess = preprocess
        self.seed = seed
        self.augment = augment
        self.sbi = sbi or SBIConfig()
        self.epoch = 0
        self.plan()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def plan(self, variants: np.ndarray | None = None, freda=(), freda_cutoff: float = 0.1) -> None:
        """What a curriculum asks of the coming epoch: ``variants[i]``, the fixed fake face ``i``
        trains on (None: a fresh draw each epoch), and the items whose fake gets FreDA."""
        if variants is not None and len(variants) != len(self):
            raise ValueError(f"plan: {len(variants)} variants for {len(self)} items")
        self.variants = None if variants is None else np.asarray(variants, dtype=np.int64)
        self.freda_items = frozenset(int(i) for i in freda)
        self.freda_cutoff = freda_cutoff

    def __len__(self) -> int:
        return len(self.faces)

    @property
    def kinds(self) -> list[int]:
        """What each image of an item is: 0 real, 1 self-blended fake, 2 ready-made fake."""
        return ([REAL, SELF_BLEND] if self.make_sbi else []) + (
            [REAL, READY_MADE] if self.fakes is not None else []
        )

    def fixed_fake(self, index: int, variant: int):
        """Fixed self-blend number ``variant`` of face ``index`` (a ``SelfBlend``: fake, target, mask),
        before augmentation: the same in every epoch."""
        rng = np.random.default_rng([self.seed, FIXED_FAKE_STREAM, index, variant])
        return self_blend(self.faces.crops[index], self.faces.landmarks[index], rng, self.sbi)

    def item(self, index: int) -> list[np.ndarray]:
        return self.item_with_fake(index)[0]

    def item_with_fake(self, index: int) -> tuple[list[np.ndarray], int]:
        """Pairs of crops for one index, augmented alike, before resizing (``kinds`` says which is
        which): the SBI fake after the real *as the blend saw it* (it may carry SBI's colour jitter),
        and a ready-made fake after the *untouched* real, so that jitter never tells a ready-made fake
        from a real. Also returns the ready-made fake's row in ``fakes`` (-1: none)."""
        rng = np.random.default_rng([self.seed, self.epoch, index])
        images, ready = [], -1
        if self.make_sbi:
            if self.variants is not None:
                blend = self.fixed_fake(index, int(self.variants[index]))
            else:
                blend = self_blend(self.faces.crops[index], self.faces.landmarks[index], rng, self.sbi)
            images = [blend.target, blend.fake]
            if index in self.freda_items:  # an easy fake, made more realistic (quality curriculum)
                from fakelens.forge.freda import freda_mix

                images[1] = freda_mix(blend.fake, blend.target, blend.mask, self.freda_cutoff).fake
        if self.fakes is not None:
            ready = int(rng.integers(len(self.fakes)))
            images += [self.faces.crops[index], self.fakes.crops[ready]]
        if not self.augment:
            return images, ready
        if self.augment_kind == "flip+soft-reals":  # flips, and half the reals blurred or resampled
            images = paired_augment(images, rng, "flip")
            return [
                soften(im, rng) if k == REAL and rng.random() < 0.5 else im
                for im, k in zip(images, self.kinds, strict=True)
            ], ready
        return paired_augment(images, rng, self.augment_kind), ready

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        images, ready = self.item_with_fake(index)
        kind = torch.tensor(self.kinds, dtype=torch.int64)
        variant = torch.full((len(images),), -1, dtype=torch.int64)
        if self.variants is not None:
            variant[kind == SELF_BLEND] = int(self.variants[index])
        return {
            "image": self.preprocess.to_tensor(images),
            "label": (kind > 0).float(),
            "kind": kind,
            "index": torch.full((len(images),), index, dtype=torch.int64),
            "variant": variant,
            "fake_index": torch.where(kind == READY_MADE, ready, -1),
        }

    def clean_reals(self, batch: int = 64) -> Iterator[torch.Tensor]:
        """The training reals as they enter the model, unaugmented, in batches (a method's statistics)."""
        crops = self.faces.crops
        for i in range(0, len(crops), batch):
            yield self.preprocess.to_tensor(list(crops[i : i + batch]))


def collate_items(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Concatenate items into one batch (each item's real first); images in channels-last memory."""
    batch = {k: torch.cat([it[k] for it in items]) for k in items[0]}
    batch["image"] = batch["image"].contiguous(memory_format=torch.channels_last)
    return batch
