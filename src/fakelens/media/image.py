"""Decode any still image into one predictable array: HxWx3 uint8 RGB, C-contiguous.

Detectors downstream assume that one layout, so every mode Pillow can produce (palette, 16-bit,
float, CMYK, alpha...) is normalised here, and every failure becomes a one-line ``MediaError``.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fakelens.errors import MediaError

DEFAULT_MAX_PIXELS = 64_000_000

_ALPHA_MODES = {"LA", "La", "PA", "RGBA", "RGBa"}
_INT16_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}


def load_image(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file as HxWx3 uint8 RGB with EXIF orientation applied."""
    p = Path(path)
    _check_file(p)
    try:
        fp = open(p, "rb")
    except OSError as err:
        raise MediaError(err.strerror or "cannot open file", path) from None
    with fp:
        return _decode(fp, path, max_pixels)


def load_image_bytes(data: bytes, name: str = "<upload>", max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Same as :func:`load_image` for bytes already in memory (uploads); ``name`` is for messages."""
    if not data:
        raise MediaError("empty file", name)
    return _decode(io.BytesIO(data), name, max_pixels)


def _check_file(p: Path) -> None:
    """Give the common failures a clear reason before Pillow turns them into vague ones."""
    if not p.exists():
        raise MediaError("no such file", p)
    if p.is_dir():
        raise MediaError("is a directory", p)
    try:
        size = p.stat().st_size
    except OSError as err:
        raise MediaError(err.strerror or "cannot stat file", p) from None
    if size == 0:
        raise MediaError("empty file", p)


def _decode(fp: IO[bytes], name: str | os.PathLike[str], max_pixels: int) -> np.ndarray:
    # Our max_pixels is the authority, so Pillow's own bomb warning is silenced; its hard error
    # (at twice its MAX_IMAGE_PIXELS) still fires before we can check, and becomes ours.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(fp)  # lazy: reads the header only
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise MediaError("image is larger than Pillow's hard limit (decompression bomb?)", name) from None
        except UnidentifiedImageError:
            raise MediaError("not a recognised image format", name) from None
        except Exception:  # plugins raise SyntaxError, struct.error, ... on mangled headers
            raise MediaError("corrupt image header", name) from None
    with im:
        width, height = im.size
        if width * height > max_pixels:
            reason = f"image has {width * height} pixels, more than the limit of {max_pixels}"
            raise MediaError(f"{reason} (decompression bomb?)", name)
        if width <= 0 or height <= 0:
            raise MediaError("image has no pixels", name)
        try:
            im.load()  # GIF/TIFF/WebP animations: the first frame is the one loaded
        except Exception:
            raise MediaError("corrupt or truncated image data", name) from None
        try:
            im = ImageOps.exif_transpose(im) or im
        except Exception:
            pass  # a malformed EXIF block should not make a decodable image unreadable
        try:
            rgb = _to_rgb(im)
        except Exception:
            raise MediaError(f"unsupported image mode '{im.mode}'", name) from None
    return np.ascontiguousarray(rgb)


def _to_rgb(im: Image.Image) -> np.ndarray:
    """Normalise any Pillow mode to RGB uint8.

    Alpha is composited on black (transparent pixels become black): the colour stored under
    alpha=0 is arbitrary encoder garbage and must not reach a detector.
    """
    mode = im.mode
    if mode == "RGB":
        return np.array(im, dtype=np.uint8)
    if mode == "P" and "transparency" in im.info:
        im, mode = im.convert("RGBA"), "RGBA"
    if mode in _ALPHA_MODES:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.uint16)
        rgb = (rgba[..., :3] * rgba[..., 3:4] + 127) // 255
        return rgb.astype(np.uint8)
    if mode in _INT16_MODES:
        # Pillow's own convert("L") clips at 255; scale the full 16-bit range instead.
        arr = np.asarray(im).astype(np.uint32)
        return _gray_to_rgb(((arr * 255 + 32767) // 65535).astype(np.uint8))
    if mode == "I":
        return _gray_to_rgb(_int32_to_u8(np.asarray(im, dtype=np.int64)))
    if mode == "F":
        return _gray_to_rgb(_float_to_u8(np.asarray(im, dtype=np.float64)))
    return np.array(im.convert("RGB"), dtype=np.uint8)  # 1, L, P, CMYK, YCbCr, RGBX, ...


def _int32_to_u8(arr: np.ndarray) -> np.ndarray:
    """32-bit int images are usually 16-bit data (old PNG/TIFF path); else stretch min..max."""
    lo, hi = int(arr.min()), int(arr.max())
    if lo >= 0 and hi <= 65535:
        return ((arr * 255 + 32767) // 65535).astype(np.uint8)
    if hi == lo:
        return np.zeros(arr.shape, np.uint8)
    return ((arr - lo) * 255 // (hi - lo)).astype(np.uint8)


def _float_to_u8(arr: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] map to 0..255; any other range is stretched min..max (NaN -> 0)."""
    finite = np.isfinite(arr)
    if not finite.any():
        return np.zeros(arr.shape, np.uint8)
    lo, hi = float(arr[finite].min()), float(arr[finite].max())
    if lo < 0.0 or hi > 1.0:
        arr = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    arr = np.where(finite, arr, 0.0)
    return np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[..., None], 3, axis=2)
