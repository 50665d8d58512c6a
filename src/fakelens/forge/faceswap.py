"""Landmark-driven face swap between two identities: the classic "FaceSwap" training forgery.

FaceForensics++'s FaceSwap set was made with MarekKowalski/FaceSwap, whose recipe is: fit a model
to the 68 landmarks of both faces, render the source face at the target's landmark positions,
move its colours towards the target's inside the face mask (``ImageProcessing.colorTransfer``: a
per-channel RGB *mean* shift) and paste it with a feathered mask whose weight grows with the
distance inside the face hull (``blendImages``, feather = 0.2 x face size).

Differences here: the source is moved onto the target by a 2-D piecewise-affine warp over a
Delaunay triangulation of the landmarks (plus forehead and image-border points), not by fitting and
rendering Kowalski's 3-D Candide model; the colour transfer is Reinhard's mean/std match in LAB by
default (``"mean"`` gives Kowalski's RGB mean shift); blending is ``cv2.seamlessClone`` (Poisson) or
Kowalski's feathering, drawn at random. All randomness comes from one ``numpy.random.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fakelens.forge.masks import forehead_points, hull_mask
from fakelens.forge.sbi import SelfBlend

#: One result type for every training forgery: ``fake`` (uint8 HxWx3), ``mask`` (float32 HxW in
#: [0, 1], where the fake differs from ``target``) and ``target`` (the real it pairs with).
Forgery = SelfBlend

BLENDS = ("seamless", "feather")
COLOURS = ("reinhard", "mean", "none")


@dataclass(frozen=True)
class FaceSwapConfig:
    """Each tuple is sampled uniformly per swap; give one element to fix a choice."""

    blends: tuple[str, ...] = BLENDS
    colours: tuple[str, ...] = ("reinhard", "reinhard", "mean")
    hull_variants: tuple[str, ...] = ("full", "full", "extended")
    feather: tuple[float, float] = (0.1, 0.25)  # fraction of face size (Kowalski: 0.2)


def _control_points(lm: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """68 landmarks, 10 forehead points and 8 border points: the triangulation covers the image."""
    h, w = shape
    border = np.array(
        [
            [0, 0],
            [w / 2, 0],
            [w - 1, 0],
            [w - 1, h / 2],
            [w - 1, h - 1],
            [w / 2, h - 1],
            [0, h - 1],
            [0, h / 2],
        ],
        dtype=np.float32,
    )
    return np.concatenate([lm.astype(np.float32), forehead_points(lm), border])


def piecewise_affine_map(
    src_pts: np.ndarray, dst_pts: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Backward maps (for ``cv2.remap``) taking each pixel of a ``shape`` image whose control points
    are ``dst_pts`` to where it lies in the image whose control points are ``src_pts``: one affine
    map per Delaunay triangle of ``dst_pts``."""
    from scipy.spatial import Delaunay

    h, w = shape
    tri = Delaunay(dst_pts).simplices
    index = np.full((h, w), -1, dtype=np.int32)
    for k, t in enumerate(tri):  # rasterise triangles in order; shared edges go to the later one
        cv2.fillConvexPoly(index, np.round(dst_pts[t]).astype(np.int32), int(k))
    affines = np.stack(
        [cv2.getAffineTransform(dst_pts[t].astype(np.float32), src_pts[t].astype(np.float32)) for t in tri]
    )
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    m = affines[np.maximum(index, 0)]  # (h, w, 2, 3)
    map_x = m[..., 0, 0] * xs + m[..., 0, 1] * ys + m[..., 0, 2]
    map_y = m[..., 1, 0] * xs + m[..., 1, 1] * ys + m[..., 1, 2]
    outside = index < 0  # rounding gaps at the border: sample in place
    map_x[outside], map_y[outside] = xs[outside], ys[outside]
    return map_x.astype(np.float32), map_y.astype(np.float32)


def warp_face(source: np.ndarray, source_lm: np.ndarray, target_lm: np.ndarray, shape: tuple[int, int]):
    """The source image moved so that its landmarks land on ``target_lm`` (an image of ``shape``)."""
    src_pts = _control_points(np.asarray(source_lm, np.float32), source.shape[:2])
    dst_pts = _control_points(np.asarray(target_lm, np.float32), shape)
    map_x, map_y = piecewise_affine_map(src_pts, dst_pts, shape)
    return cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def colour_transfer(image: np.ndarray, reference: np.ndarray, mask: np.ndarray, mode: str = "reinhard"):
    """Move ``image``'s colour statistics inside ``mask`` to ``reference``'s there.

    ``reinhard``: per-channel mean and std in CIE LAB (Reinhard et al. 2001); ``mean``: per-channel
    RGB mean shift (Kowalski's ``colorTransfer``); ``none``: unchanged."""
    if mode == "none":
        return image
    inside = mask > 0.5
    if not inside.any():
        return image
    if mode == "mean":
        x = image.astype(np.float32)
        x += reference[inside].astype(np.float32).mean(0) - x[inside].mean(0)
        return np.clip(x + 0.5, 0, 255).astype(np.uint8)
    if mode != "reinhard":
        raise ValueError(f"unknown colour transfer {mode!r} (known: {', '.join(COLOURS)})")
    a = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    b = cv2.cvtColor(reference, cv2.COLOR_RGB2LAB).astype(np.float32)
    mu_a, sd_a = a[inside].mean(0), a[inside].std(0) + 1e-3
    mu_b, sd_b = b[inside].mean(0), b[inside].std(0) + 1e-3
    a = (a - mu_a) * (sd_b / sd_a) + mu_b
    return cv2.cvtColor(np.clip(a + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def feather_weights(mask: np.ndarray, amount: float) -> np.ndarray:
    """Kowalski's ``blendImages`` weights: distance inside the mask over ``amount`` x face size."""
    m = (mask > 0.5).astype(np.uint8)
    if not m.any():
        return np.zeros(mask.shape, np.float32)
    ys, xs = np.nonzero(m)
    size = max(int(np.ptp(xs)), int(np.ptp(ys)), 1)
    dist = cv2.distanceTransform(m, cv2.DIST_L2, 5)
    return np.clip(dist / (amount * size), 0, 1).astype(np.float32)


def _seamless(warped: np.ndarray, target: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poisson blend; the mask is kept off the image border (seamlessClone needs a frame around it)."""
    m = (mask > 0.5).astype(np.uint8) * 255
    m[:2], m[-2:], m[:, :2], m[:, -2:] = 0, 0, 0, 0
    if not m.any():
        return target.copy(), np.zeros(mask.shape, np.float32)
    x, y, w, h = cv2.boundingRect(m)
    centre = (x + w // 2, y + h // 2)
    out = cv2.seamlessClone(
        np.ascontiguousarray(warped[..., ::-1]),
        np.ascontiguousarray(target[..., ::-1]),
        m.copy(),  # OpenCV may write into the mask it is given
        centre,
        cv2.NORMAL_CLONE,
    )
    # OpenCV's solver also nudges pixels of the bounding box outside the mask (by up to ~15 levels):
    # keep the target there, so the mask is exactly where the fake differs
    inside = m > 0
    fake = target.copy()
    fake[inside] = out[..., ::-1][inside]
    return fake, inside.astype(np.float32)


def face_swap(
    source: np.ndarray,
    source_landmarks: np.ndarray,
    target: np.ndarray,
    target_landmarks: np.ndarray,
    rng: np.random.Generator,
    config: FaceSwapConfig | None = None,
) -> Forgery:
    """Put ``source``'s face (another identity) onto ``target``; both RGB uint8 with (68, 2)
    landmarks. ``mask`` is the target face hull as blended (binary for Poisson blending, the
    feather weights otherwise); outside it the fake equals the target."""
    cfg = config or FaceSwapConfig()
    shape = target.shape[:2]
    variant = cfg.hull_variants[int(rng.integers(len(cfg.hull_variants)))]
    colour = cfg.colours[int(rng.integers(len(cfg.colours)))]
    blend = cfg.blends[int(rng.integers(len(cfg.blends)))]
    feather = float(rng.uniform(*cfg.feather))
    if blend not in BLENDS:
        raise ValueError(f"unknown blend {blend!r} (known: {', '.join(BLENDS)})")

    hull = hull_mask(shape, target_landmarks, variant=variant, forehead=True)
    warped = warp_face(source, source_landmarks, target_landmarks, shape)
    warped = colour_transfer(warped, target, hull, colour)
    if blend == "seamless":
        fake, mask = _seamless(warped, target, hull)
    else:
        mask = feather_weights(hull, feather)
        m3 = mask[..., None]
        fake = np.clip(m3 * warped + (1 - m3) * target.astype(np.float32) + 0.5, 0, 255).astype(np.uint8)
    return Forgery(fake=fake, mask=mask, target=target)
