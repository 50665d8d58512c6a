"""Leave-one-generator-out: family names from folders, one fold per family, unseen by its probe."""

from __future__ import annotations

import numpy as np
import pytest

from fakelens.data.facecache import FaceSet
from fakelens.evaluate.generators import family_of, leave_one_generator_out
from fakelens.models.registry import create_model
from fakelens.preprocess import Preprocess
from fakelens.train.data import TrainingFaces


def test_family_of_reads_the_folders():
    assert family_of("/d/synthetic/diffusion/sdfd-gebaltso/a.jpg") == "Stable Diffusion"
    assert family_of("/d/stylegan2-fake/tpdne_fake_1.png") == "StyleGAN2 (TPDNE)"
    assert family_of("/d/synthetic/gan/gpen-seg2face/x.png") == "GPEN"
    assert family_of("/d/elsewhere/x.png") == "unknown"


def _faces(rng, n, tint, folder):
    base = rng.integers(60, 200, (n, 64, 64, 3)).astype(np.float32)
    crops = np.clip(base + np.asarray(tint, np.float32), 0, 255).astype(np.uint8)
    return FaceSet(crops, np.zeros((n, 68, 2), np.float32), [f"/d/{folder}/{i}.png" for i in range(n)], [])


def test_each_family_is_left_out_of_its_own_fold():
    rng = np.random.default_rng(0)
    real = [0, 0, 0]
    gpen, sd = [60, -40, 0], [0, 50, -60]  # two 'generators' with different colour casts
    train_fakes = _faces(rng, 6, gpen, "gpen-seg2face")
    more = _faces(rng, 6, sd, "sdfd-gebaltso")
    fakes_train = FaceSet(
        np.concatenate([train_fakes.crops, more.crops]),
        np.zeros((12, 68, 2)),
        train_fakes.paths + more.paths,
        [],
    )
    val_fakes = FaceSet(
        np.concatenate([train_fakes.crops[:2], more.crops[:2]]),
        np.zeros((4, 68, 2)),
        train_fakes.paths[:2] + more.paths[:2],
        [],
    )
    faces = TrainingFaces(_faces(rng, 12, real, "r"), _faces(rng, 6, real, "r"), fakes_train, val_fakes)
    every = FaceSet(fakes_train.crops, fakes_train.landmarks, fakes_train.paths, [])
    model = create_model("probe-effnet-lite0").eval()
    folds = leave_one_generator_out(
        model, Preprocess(64), faces, _faces(rng, 8, real, "r"), every, [1.0], copies=1
    )
    assert [f.family for f in folds] == ["GPEN", "Stable Diffusion"]
    assert all(f.n_fake == 6 and f.n_real == 8 and 0 <= f.auc <= 1 for f in folds)


def test_fake_family_falls_back_to_the_fake_s_folder():
    from fakelens.data.families import fake_family

    assert fake_family("/d/synthetic/gan/gpen-seg2face/x.png") == "GPEN"
    assert fake_family("data/video-synth/fake/lipsync/a_f00004.png") == "lipsync"


def test_fused_folds_keep_each_members_strength():
    """The max of standardised scores catches what either member catches, at the same false alarms."""
    from fakelens.evaluate.generators import FoldResult, _fold, fused_folds

    rng = np.random.default_rng(0)

    def fold(fake_shift):
        z = {
            "val_real": rng.normal(size=200),
            "real": rng.normal(size=100),
            "fake": rng.normal(size=50) + fake_shift,
        }
        return _fold("GPEN", z, 0.1)

    sees, blind = fold(4.0), fold(0.0)
    (fused,) = fused_folds([[blind], [sees]])
    assert blind.auc < 0.65 and sees.auc > 0.95
    assert fused.auc > 0.9 and fused.caught > 0.8
    assert (
        isinstance(fused, FoldResult)
        and fused.record()["family"] == "GPEN"
        and "scores" not in fused.record()
    )
    other = _fold("SFHQ", {k: v[:10] for k, v in sees.scores.items()}, 0.1)
    with pytest.raises(ValueError, match="same families"):
        fused_folds([[sees], [other]])
