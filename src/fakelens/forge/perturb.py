"""Test-time perturbations of whole frames, 5 severity levels each, for robustness evaluation.

Modelled on DeeperForensics-1.0's distortion suite (Jiang et al., CVPR 2020; its
``perturbation/add_distortion_to_video.py``), which ForgeryNet also follows. Where the levels come
from DeeperForensics (DF) the table below says so; the differences from DF are:

- ``jpeg`` is real JPEG at a quality factor (DF's entry called "JPEG" is a down-up resize: that is
  our ``resize``, at DF's factors 2..6, bilinear both ways as in DF);
- ``contrast`` scales each channel around its mean (DF multiplies pixel values, which also darkens);
- ``noise`` is DF's colour Gaussian noise in YCbCr at DF's variances, but on full-range YCbCr;
- ``occlusion`` is DF's block-wise distortion (8 px grey blocks, ``min(h, w) // 256 * n`` of them,
  at least ``n``), placed by a seeded generator so higher levels add blocks to lower ones;
- ``h264`` re-encodes with libx264 at DF's CRFs; a single image becomes a one-frame clip (an
  intra-coded frame: the best-quality frame type of a real stream, so an optimistic estimate);
  :func:`perturb_video_frames` encodes a frame sequence as one clip (P/B frames included);
- ``pixelate`` (area-down, nearest-up) is not in DF.

Deterministic: the same image, spec and seed always give the same output; the random ones are
seeded from ``seed`` and a hash of the image's content, so each video frame gets its own noise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import partial

import cv2
import numpy as np

from fakelens.errors import ConfigError

LEVELS = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class _Kind:
    func: Callable  # (image, value, rng) -> image
    param: str  # name of the one parameter that grows with severity
    values: tuple  # its value at levels 1..5 (1 mild ... 5 severe)
    source: str


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """RGB uint8 through one JPEG encode/decode at ``quality`` (OpenCV's 4:2:0, as cameras and sites
    store); the one JPEG of forge/ (perturbations, training augmentation, the photo pipeline)."""
    ok, buf = cv2.imencode(
        ".jpg", np.ascontiguousarray(img[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


def _jpeg(img: np.ndarray, quality: int, rng) -> np.ndarray:
    return jpeg(img, quality)


def _pad_for_x264(img: np.ndarray) -> np.ndarray:
    """Replicate the last row/column (cropped off after decoding) up to a height multiple of 16
    and a width multiple of 128. yuv420p needs even sides; and with row padding in the frame
    buffers (chroma width not a multiple of 64 bytes) libx264 gave run-to-run different bytes
    here, as if reading uninitialised memory; without it, it is deterministic."""
    h, w = img.shape[:2]
    return np.pad(img, ((0, -h % 16), (0, -w % 128), (0, 0)), mode="edge")


def perturb_video_frames(
    frames: Sequence[np.ndarray],
    crf: int,
    fps: int = 25,
    preset: str = "medium",
    tune: str | None = None,
    threads: int | None = None,
) -> list[np.ndarray]:
    """Encode RGB frames (same size) as one H.264 clip at ``crf`` (libx264, yuv420p, in memory)
    and decode it back: compression as a video platform applies it. The one H.264 round trip of
    fakelens (robustness tests and training augmentation); ``tune``/``threads`` unset = x264's own."""
    import av

    if not frames:
        return []
    h, w = frames[0].shape[:2]
    options = {"crf": str(int(crf)), "preset": preset}
    if tune is not None:
        options["tune"] = tune
    if threads is not None:
        options["threads"] = str(int(threads))
    # codec contexts alone, no (de)muxer: the bitstream is the one a raw .h264 file would hold
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = w + -w % 128, h + -h % 16, "yuv420p"
    encoder.time_base, encoder.framerate = Fraction(1, fps), Fraction(fps)
    encoder.options = options
    packets = []
    for index, img in enumerate(frames):
        if img.shape[:2] != (h, w):
            raise ValueError(f"all frames must be {w}x{h}, got {img.shape[1]}x{img.shape[0]}")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(_pad_for_x264(img)), format="rgb24")
        frame.pts = index
        packets += encoder.encode(frame)
    packets += encoder.encode(None)
    decoder = av.CodecContext.create("h264", "r")
    decoded = [f for packet in [*packets, None] for f in decoder.decode(packet)]
    decoded = [f.to_ndarray(format="rgb24")[:h, :w] for f in decoded]
    if len(decoded) != len(frames):
        raise RuntimeError(f"H.264 round trip returned {len(decoded)} of {len(frames)} frames")
    return [np.ascontiguousarray(d) for d in decoded]


def _h264(img: np.ndarray, crf: int, rng) -> np.ndarray:
    return perturb_video_frames([img], crf)[0]


def _blur(img: np.ndarray, kernel: int, rng) -> np.ndarray:
    return cv2.GaussianBlur(img, (kernel, kernel), kernel / 6)  # DF: sigma = kernel / 6


def _noise(img: np.ndarray, variance: float, rng: np.random.Generator) -> np.ndarray:
    ycc = cv2.cvtColor(img.astype(np.float32) / 255, cv2.COLOR_RGB2YCrCb)
    ycc += rng.standard_normal(ycc.shape, dtype=np.float32) * np.float32(np.sqrt(variance))
    rgb = cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)
    return np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)


def _resize(img: np.ndarray, factor: int, rng) -> np.ndarray:
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(w // factor, 1), max(h // factor, 1)), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _contrast(img: np.ndarray, factor: float, rng) -> np.ndarray:
    mean = np.array(cv2.mean(img)[:3])  # per channel: the mean colour is kept
    values = np.arange(256, dtype=np.float64)[:, None]
    lut = np.clip(np.floor(mean + (values - mean) * factor + 0.5), 0, 255).astype(np.uint8)
    return cv2.LUT(img, lut.reshape(256, 1, 3))


def _saturation(img: np.ndarray, factor: float, rng) -> np.ndarray:
    ycc = cv2.cvtColor(img.astype(np.float32) / 255, cv2.COLOR_RGB2YCrCb)
    ycc[..., 1:] = 0.5 + (ycc[..., 1:] - 0.5) * factor
    rgb = cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)
    return np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)


_BLOCK = 8


def _occlusion(img: np.ndarray, blocks: int, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    scale = max(min(h, w) // 256, 1)
    most = scale * _TABLE["occlusion"].values[-1]
    # draw positions for the most severe level and use a prefix: level n+1 covers level n
    ys = rng.integers(0, max(h - _BLOCK, 1), most)[: scale * blocks]
    xs = rng.integers(0, max(w - _BLOCK, 1), most)[: scale * blocks]
    out = img.copy()
    for y, x in zip(ys, xs, strict=True):
        out[y : y + _BLOCK, x : x + _BLOCK] = 128
    return out


def _pixelate(img: np.ndarray, block: int, rng) -> np.ndarray:
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(w // block, 1), max(h // block, 1)), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


_DF = "DeeperForensics-1.0"
# The one table of severities: name -> parameter at levels 1..5.
_TABLE: dict[str, _Kind] = {
    "jpeg": _Kind(_jpeg, "quality", (70, 50, 30, 20, 10), "fakelens (DF's 'JPEG' is our resize)"),
    "h264": _Kind(_h264, "crf", (30, 32, 35, 38, 40), f"{_DF} VC"),
    "blur": _Kind(_blur, "kernel", (7, 9, 13, 17, 21), f"{_DF} GB"),
    "noise": _Kind(_noise, "variance", (0.001, 0.002, 0.005, 0.01, 0.05), f"{_DF} GNC"),
    "resize": _Kind(_resize, "factor", (2, 3, 4, 5, 6), f"{_DF} 'JPEG'"),
    "contrast": _Kind(_contrast, "factor", (0.85, 0.725, 0.6, 0.475, 0.35), f"{_DF} CC"),
    "saturation": _Kind(_saturation, "factor", (0.4, 0.3, 0.2, 0.1, 0.0), f"{_DF} CS"),
    "occlusion": _Kind(_occlusion, "blocks", (16, 32, 48, 64, 80), f"{_DF} BW"),
    "pixelate": _Kind(_pixelate, "block", (3, 4, 6, 8, 12), "fakelens"),
}
PERTURBATIONS = _TABLE
_SEEDED = {"noise", "occlusion"}


def list_perturbations() -> list[str]:
    return list(_TABLE)


@dataclass(frozen=True)
class Perturbation:
    """One perturbation at one severity level, e.g. ``Perturbation("jpeg", 3)`` (quality 30)."""

    name: str
    level: int

    def __post_init__(self):
        _check(self.name, self.level, f"{self.name}:{self.level}")

    @property
    def params(self) -> dict:
        kind = _TABLE[self.name]
        return {kind.param: kind.values[self.level - 1]}

    def __str__(self) -> str:
        return f"{self.name}:{self.level}"

    def apply(self, image: np.ndarray, seed: int = 0) -> np.ndarray:
        return apply_perturbation(image, self, seed)

    def transform(self, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
        """A frame transform for :class:`fakelens.scan.ScanOptions`."""
        return partial(apply_perturbation, spec=self, seed=seed)

    def to_dict(self) -> dict:
        return {"name": self.name, "level": self.level, "params": self.params, "spec": str(self)}


def _check(name: str, level, text: str) -> None:
    if name not in _TABLE:
        raise ConfigError(f"unknown perturbation '{text}': choose one of {', '.join(_TABLE)} (or 'all')")
    if isinstance(level, bool) or not isinstance(level, int) or level not in LEVELS:
        raise ConfigError(f"perturbation '{text}': level must be 1..5 (1 mild, 5 severe)")


def parse_perturbation(text: str | Perturbation) -> Perturbation:
    """``"jpeg:3"`` -> ``Perturbation("jpeg", 3)``; a one-line ConfigError lists the choices."""
    if isinstance(text, Perturbation):
        return text
    name, sep, level = str(text).strip().lower().partition(":")
    if not sep:
        _check(name, 1, text)  # unknown names first, then the missing level
        raise ConfigError(f"perturbation '{text}' needs a level: {name}:1 .. {name}:5")
    try:
        number = int(level)
    except ValueError:
        number = None
    _check(name, number, text)
    return Perturbation(name, number)


def parse_perturbations(text: str, levels: Sequence[int] = LEVELS) -> list[Perturbation]:
    """Comma-separated specs; a bare name means all ``levels`` of it, ``all`` every perturbation."""
    out: list[Perturbation] = []
    for part in [p.strip().lower() for p in str(text).split(",") if p.strip()]:
        if ":" in part and not part.startswith("all:"):
            out.append(parse_perturbation(part))
            continue
        if part.startswith("all:"):  # every perturbation at the given level(s)
            level = part[4:]
            if level not in {str(v) for v in LEVELS}:
                raise ConfigError(f"perturbation '{part}': level must be 1..5 (1 mild, 5 severe)")
            out.extend(Perturbation(name, int(level)) for name in _TABLE)
            continue
        names = list(_TABLE) if part == "all" else [part]
        for name in names:
            for level in levels:
                _check(name, level, f"{name}:{level}" if name in _TABLE else part)
                out.append(Perturbation(name, level))
    if not out:
        raise ConfigError(f"no perturbation given: choose from {', '.join(_TABLE)} or 'all'")
    return list(dict.fromkeys(out))  # drop repeats, keep order


def _rng(image: np.ndarray, seed: int) -> np.random.Generator:
    digest = hashlib.blake2b(image.tobytes(), digest_size=8)
    digest.update(repr(image.shape).encode())
    return np.random.default_rng([int(seed), int.from_bytes(digest.digest(), "little")])


def apply_perturbation(image: np.ndarray, spec: str | Perturbation, seed: int = 0) -> np.ndarray:
    """Degrade an RGB uint8 HxWx3 image; returns a new array of the same shape and dtype."""
    p = parse_perturbation(spec)
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 HxWx3 image, got {img.dtype} {img.shape}")
    kind = _TABLE[p.name]
    rng = _rng(img, seed) if p.name in _SEEDED else None
    out = kind.func(np.ascontiguousarray(img), kind.values[p.level - 1], rng)
    return np.ascontiguousarray(out, dtype=np.uint8)
