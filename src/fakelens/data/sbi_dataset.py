"""Training items made on the fly from cached real faces: (real, its self-blended fake) pairs, and
optionally (real, a ready-made fake such as a GAN face drawn for it) pairs.

Each item is one real face and its own SBI fake, as in SBI's ``collate_fn``: the pair shares
identity, pose and post-augmentation, so the only difference the model can learn is the blend. A
ready-made fake gets the same augmentation draw as its real, so augmentation is never a cue.
Randomness is seeded by (seed, epoch, index): any epoch of any run can be reproduced exactly.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from fakelens.data.facecache import FaceSet
from fakelens.forge.augment import paired_augment, soften
from fakelens.forge.sbi import SBIConfig, self_blend
from fakelens.models.detector import Preprocess


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
        self.freda_items: frozenset[int] = frozenset()  # set per epoch by the quality strategy
        self.freda_cutoff = 0.1
        self.fakes = fakes if fakes is not None and len(fakes) else None
        self.preprocess = preprocess
        self.seed = seed
        self.augment = augment
        self.sbi = sbi or SBIConfig()
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.faces)

    @property
    def kinds(self) -> list[int]:
        """What each image of an item is: 0 real, 1 self-blended fake, 2 ready-made fake."""
        return ([0, 1] if self.make_sbi else []) + ([0, 2] if self.fakes is not None else [])

    def pair(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(real, fake, mask) crops for one index, before resizing."""
        rng = np.random.default_rng([self.seed, self.epoch, index])
        blend = self_blend(self.faces.crops[index], self.faces.landmarks[index], rng, self.sbi)
        real, fake = blend.target, blend.fake
        if self.augment:
            real, fake = paired_augment([real, fake], rng, self.augment_kind)
        return real, fake, blend.mask

    def item(self, index: int) -> list[np.ndarray]:
        """Pairs of crops for one index, augmented alike, before resizing (``kinds`` says which is
        which): the SBI fake after the real *as the blend saw it* (it may carry SBI's colour jitter),
        and a ready-made fake after the *untouched* real, so that jitter never tells a ready-made fake
        from a real. Without ready-made fakes this draws exactly what ``pair`` draws."""
        rng = np.random.default_rng([self.seed, self.epoch, index])
        images = []
        if self.make_sbi:
            blend = self_blend(self.faces.crops[index], self.faces.landmarks[index], rng, self.sbi)
            images = [blend.target, blend.fake]
            if index in self.freda_items:  # an easy fake, made more realistic (quality curriculum)
                from fakelens.forge.freda import freda_mix

                images[1] = freda_mix(blend.fake, blend.target, blend.mask, self.freda_cutoff).fake
        if self.fakes is not None:
            images += [self.faces.crops[index], self.fakes.crops[rng.integers(len(self.fakes))]]
        if not self.augment:
            return images
        if self.augment_kind == "flip+soft-reals":  # flips, and half the reals blurred or resampled
            images = paired_augment(images, rng, "flip")
            return [
                soften(im, rng) if k == 0 and rng.random() < 0.5 else im
                for im, k in zip(images, self.kinds, strict=True)
            ]
        return paired_augment(images, rng, self.augment_kind)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(images, labels, the item index of each image: strategies track fakes by it)."""
        images = self.item(index)
        x = self.preprocess.to_tensor(images)
        labels = torch.tensor([float(k > 0) for k in self.kinds])
        return x, labels, torch.full((len(images),), index)


def collate_pairs(batch):
    """Stack items into one batch: images (each item's real first), labels, item index per image."""
    xs, ys, idx = zip(*batch, strict=True)
    return torch.cat(xs).contiguous(memory_format=torch.channels_last), torch.cat(ys), torch.cat(idx)
