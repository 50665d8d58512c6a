"""Decode any still image into one predictable array: HxWx3 uint8 RGB, C-contiguous.

Detectors downstream assume that one layout, so every mode Pillow can produce (palette, 16-bit,
float, CMYK, alpha...) is normalised here, and every failure becomes a one-line ``MediaError``.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterator
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


def _open_checked(fp: IO[bytes], name: str | os.PathLike[str], max_pixels: int) -> Image.Image:
    """The lazily opened image, its header checked against ``max_pixels``."""
    # Our max_pixels is the authority, so Pillow's own bomb warning is silenced; its hard error
    # (at twice its MAX_IMAGE_PIXELS) still fires before we can check, and becomes ours.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(fp)  # lazy: reads the header only
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise MediaError("image is larger than Pillow's hard limit (decompression bomb?)", name) from None
        except UnidentifiedImageError:
            raise MediaError(_unrecognised(fp), name) from None
        except Exception:  # plugins raise SyntaxError, struct.error, ... on mangled headers
            raise MediaError("corrupt image header", name) from None
    _check_size(im, name, max_pixels)
    _check_jpeg_length(fp, im, name)
    return im


def _unrecognised(fp: IO[bytes]) -> str:
    fp.seek(0)
    head = fp.read(16)
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1"):
        return "a HEIC/HEIF image, which this build cannot decode (convert it to JPEG or PNG)"
    return "not a recognised image format"


def _check_jpeg_length(fp: IO[bytes], im: Image.Image, name) -> None:
    """A JPEG cut short and closed with an end marker decodes "fine" as a mostly grey picture of
    the full size. Huffman-coded JPEG spends at least about one bit per 8x8 luma block even on a
    flat picture (a white 8000x7999 one is 250 KB at any quality), so fewer bytes than that cannot
    hold the picture the header claims: it is truncated. This catches a header claiming far more
    picture than the data holds (the memory risk); a milder cut still decodes partly grey.
    (Arithmetic-coded JPEG, rare, could be smaller than the bound.)"""
    if im.format not in ("JPEG", "MPO"):
        return
    at = fp.tell()
    size = fp.seek(0, io.SEEK_END)
    fp.seek(at)
    width, height = im.size
    if size * 8 < (width // 8) * (height // 8):
        im.close()
        raise MediaError(
            f"truncated JPEG: {size} bytes cannot hold the {width}x{height} picture its header claims",
            name,
        )


def _check_size(im: Image.Image, name, max_pixels: int, what: str = "image") -> None:
    width, height = im.size
    if width * height > max_pixels:
        reason = f"{what} has {width * height} pixels, more than the limit of {max_pixels}"
        im.close()
        raise MediaError(f"{reason} (decompression bomb?)", name)
    if width <= 0 or height <= 0:
        im.close()
        raise MediaError(f"{what} has no pixels", name)


def _frame_rgb(im: Image.Image, name, transpose: bool = True) -> np.ndarray:
    try:
        im.load()
    except Exception:
        raise MediaError("corrupt or truncated image data", name) from None
    if transpose:
        try:
            im = ImageOps.exif_transpose(im) or im
        except Exception:
            pass  # a malformed EXIF block should not make a decodable image unreadable
    try:
        return np.ascontiguousarray(_to_rgb(im))
    except Exception:
        raise MediaError(f"unsupported image mode '{im.mode}'", name) from None


def _decode(fp: IO[bytes], name: str | os.PathLike[str], max_pixels: int) -> np.ndarray:
    with _open_checked(fp, name, max_pixels) as im:  # an animation: its first frame
        return _frame_rgb(im, name)


ANIMATED = ("GIF", "WEBP", "PNG")  # formats whose extra frames are an animation (APNG for PNG)


def image_frame_count(path: str | os.PathLike[str]) -> int:
    """How many frames (an animated GIF, WebP or PNG) or pages (a TIFF) an image file holds; 1 for
    a still, also an MPO phone photo whose second picture is a depth or HDR gain map."""
    try:  # header only; a file that cannot be opened is a still here, and load_image says why
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.format == "TIFF" or (getattr(im, "is_animated", False) and im.format in ANIMATED):
                    return max(1, int(getattr(im, "n_frames", 1) or 1))
                return 1  # a still, even when the file holds more pictures (MPO's gain map, a preview)
    except Exception:  # noqa: BLE001 - any decoder failure: the loader reports it properly
        return 1


def load_image_frames(
    path: str | os.PathLike[str], num_frames: int = 32, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Iterator[tuple[int, float, np.ndarray]]:
    """``(index, time_s, RGB)`` of ``num_frames`` frames spread evenly over an animation or a
    multi-page TIFF, as video frames are sampled; every frame (pages may differ in size) is held
    to ``max_pixels``. ``time_s`` adds up the frames' own durations (0 for pages)."""
    p = Path(path)
    _check_file(p)
    with open(p, "rb") as fp, _open_checked(fp, path, max_pixels) as im:
        n = max(1, int(getattr(im, "n_frames", 1) or 1))
        count = min(n, num_frames)
        wanted = sorted({min(n - 1, int((i + 0.5) * n / count)) for i in range(count)})
        elapsed_ms, at = 0.0, 0
        for index in wanted:
            for k in range(at, index):  # durations of the frames passed over
                im.seek(k)
                _check_size(im, path, max_pixels, what=f"frame {k}")  # a GIF canvas can grow here too
                elapsed_ms += float(im.info.get("duration", 0) or 0)
            try:
                im.seek(index)
            except EOFError:
                return  # fewer frames than the header said
            _check_size(im, path, max_pixels, what=f"frame {index}")
            yield index, elapsed_ms / 1000, _frame_rgb(im, path, transpose=index == 0)
            elapsed_ms += float(im.info.get("duration", 0) or 0)
            at = index + 1


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
