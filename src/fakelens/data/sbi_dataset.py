"""Pairs of (real, self-blended fake) made on the fly from cached real faces.

Each item is one real face and its own SBI fake, as in SBI's ``collate_fn``: the pair shares
identity, pose and post-augmentation, so the only difference the model can learn is the blend.
Randomness is seeded by (seed, epoch, index): any epoch of any run can be reproduced exactly.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from fakelens.data.facecache import FaceSet
from fakelens.forge.augment import paired_augment
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
    ):
        self.faces = faces
        self.preprocess = preprocess
        self.seed = seed
        self.augment = augment
        self.sbi = sbi or SBIConfig()
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.faces)

    def pair(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(real, fake, mask) crops for one index, before resizing."""
        rng = np.random.default_rng([self.seed, self.epoch, index])
        blend = self_blend(self.faces.crops[index], self.faces.landmarks[index], rng, self.sbi)
        real, fake = blend.target, blend.fake
        if self.augment:
            real, fake = paired_augment([real, fake], rng)
        return real, fake, blend.mask

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        real, fake, _ = self.pair(index)
        x = self.preprocess.to_tensor([real, fake])
        return x, torch.tensor([0.0, 1.0])


def collate_pairs(batch):
    """Stack pairs into one batch of 2B images (B reals then B fakes interleaved)."""
    xs, ys = zip(*batch, strict=True)
    return torch.cat(xs).contiguous(memory_format=torch.channels_last), torch.cat(ys)
