from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fakelens.errors import MediaError
from fakelens.media import load_image, load_image_bytes


def _check_rgb(arr: np.ndarray, h: int, w: int) -> None:
    assert arr.shape == (h, w, 3)
    assert arr.dtype == np.uint8
    assert arr.flags.c_contiguous


def _save(im: Image.Image, path: Path, **kw: object) -> Path:
    im.save(path, **kw)
    return path


def _media_error(path: Path | str, match: str, **kw: object) -> MediaError:
    with pytest.raises(MediaError, match=match) as info:
        load_image(path, **kw)
    msg = str(info.value)
    assert str(path) in msg and "\n" not in msg
    return info.value


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp", ".bmp", ".tiff", ".ppm", ".gif"])
def test_formats_decode_to_rgb(tmp_path: Path, ext: str) -> None:
    path = _save(Image.new("RGB", (8, 6), (200, 40, 90)), tmp_path / f"a{ext}")
    arr = load_image(path)
    _check_rgb(arr, 6, 8)
    tol = 6 if ext in (".jpg", ".webp", ".gif") else 0
    assert np.abs(arr.astype(int) - [200, 40, 90]).max() <= tol


def test_grayscale_palette_and_1bit(tmp_path: Path) -> None:
    gray = load_image(_save(Image.new("L", (5, 4), 77), tmp_path / "l.png"))
    _check_rgb(gray, 4, 5)
    assert (gray == 77).all()
    pal = Image.new("P", (5, 4), 0)
    pal.putpalette([10, 20, 30] + [0, 0, 0] * 255)
    assert (load_image(_save(pal, tmp_path / "p.png")) == [10, 20, 30]).all()
    bw = Image.new("1", (5, 4), 0)
    bw.putpixel((1, 1), 1)
    arr = load_image(_save(bw, tmp_path / "b.pbm"))
    assert arr[1, 1].tolist() == [255, 255, 255] and arr[0, 0].tolist() == [0, 0, 0]


def test_alpha_is_composited_on_black(tmp_path: Path) -> None:
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = [200, 100, 50, 255]
    rgba[0, 1] = [200, 100, 50, 128]
    rgba[1, 0] = [255, 255, 255, 0]
    arr = load_image(_save(Image.fromarray(rgba, "RGBA"), tmp_path / "a.png"))
    _check_rgb(arr, 2, 2)
    assert arr[0, 0].tolist() == [200, 100, 50]
    assert arr[0, 1].tolist() == [100, 50, 25]
    assert arr[1, 0].tolist() == [0, 0, 0]
    la = Image.fromarray(np.array([[[100, 255], [100, 0]]], np.uint8), "LA")
    assert load_image(_save(la, tmp_path / "la.png"))[0, :, 0].tolist() == [100, 0]


def test_16bit_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.array([[0, 257 * 10, 32768, 65535]], np.uint16)
    path = _save(Image.fromarray(values), tmp_path / "g16.png")
    assert Image.open(path).mode == "I;16"
    arr = load_image(path)
    _check_rgb(arr, 1, 4)
    assert arr[0, :, 0].tolist() == [0, 10, 128, 255]
    # 12-bit PGM: Pillow opens it as mode "I", rescaled to 16 bits.
    (tmp_path / "g12.pgm").write_bytes(b"P5\n2 1\n4095\n" + np.array([0, 4095], ">u2").tobytes())
    assert load_image(tmp_path / "g12.pgm")[0, :, 1].tolist() == [0, 255]


def test_float_and_cmyk(tmp_path: Path) -> None:
    f = Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32))
    assert load_image(_save(f, tmp_path / "f.tif"))[0, :, 2].tolist() == [0, 128, 255]
    cmyk = Image.new("CMYK", (3, 2), (0, 255, 255, 0))
    arr = load_image(_save(cmyk, tmp_path / "c.tif"))
    _check_rgb(arr, 2, 3)
    assert arr[0, 0].tolist() == [255, 0, 0]


def test_exif_orientation_rotates(tmp_path: Path) -> None:
    im = Image.new("RGB", (8, 6), (0, 0, 0))
    im.paste((255, 255, 255), (0, 0, 2, 2))  # white top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    arr = load_image(_save(im, tmp_path / "o.jpg", exif=exif, quality=95))
    _check_rgb(arr, 8, 6)
    assert arr[0, -1].mean() > 200 and arr[0, 0].mean() < 50  # corner moved to top-right


def test_gif_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (4, 4), c) for c in [(255, 0, 0), (0, 0, 255)]]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    arr = load_image(path)
    assert arr[..., 0].min() > 240 and arr[..., 2].max() < 15


def test_bomb_refused_before_decoding(tmp_path: Path) -> None:
    _save(Image.new("RGB", (100, 50)), tmp_path / "big.png")
    err = _media_error(tmp_path / "big.png", "decompression bomb", max_pixels=4999)
    assert "5000 pixels" in err.reason and "4999" in err.reason
    # Header claims 70 M pixels but holds no data: refused by the size check, not a decode error.
    (tmp_path / "huge.ppm").write_bytes(b"P6\n10000 7000\n255\n" + b"\0" * 64)
    _media_error(tmp_path / "huge.ppm", "70000000 pixels")
    # Beyond Pillow's own hard limit.
    (tmp_path / "giant.ppm").write_bytes(b"P6\n30000 30000\n255\n" + b"\0" * 64)
    _media_error(tmp_path / "giant.ppm", "decompression bomb")


def test_bad_files(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = _save(Image.fromarray(noise), tmp_path / "n.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    _media_error(tmp_path / "cut.jpg", "corrupt or truncated")
    png = _save(Image.fromarray(noise), tmp_path / "n.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(png[: len(png) // 2])
    _media_error(tmp_path / "cut.png", "corrupt or truncated")
    (tmp_path / "text.png").write_text("hello, not an image\n")
    _media_error(tmp_path / "text.png", "not a recognised image format")
    (tmp_path / "empty.jpg").write_bytes(b"")
    _media_error(tmp_path / "empty.jpg", "empty file")
    _media_error(tmp_path / "missing.jpg", "no such file")
    (tmp_path / "dir.jpg").mkdir()
    _media_error(tmp_path / "dir.jpg", "is a directory")


def test_load_image_bytes(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (3, 2), (1, 2, 3)).save(buf, format="PNG")
    arr = load_image_bytes(buf.getvalue())
    _check_rgb(arr, 2, 3)
    assert (arr == [1, 2, 3]).all()
    with pytest.raises(MediaError, match="'up.png': empty file"):
        load_image_bytes(b"", name="up.png")
    with pytest.raises(MediaError, match="not a recognised"):
        load_image_bytes(b"garbage" * 10)
    with pytest.raises(MediaError, match="decompression bomb"):
        load_image_bytes(buf.getvalue(), max_pixels=5)


def test_a_cut_jpeg_closed_with_an_end_marker_is_truncated_not_a_grey_picture() -> None:
    """5 KB claiming 2000x2000 decoded as a mostly grey picture before (68 KB claiming 8000x7999: 1.5 GB
    of nothing); a flat picture of the same size stays readable. A milder cut still decodes grey."""
    rng = np.random.default_rng(0)
    noisy, flat = io.BytesIO(), io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (2000, 2000, 3), dtype=np.uint8)).save(noisy, "JPEG", quality=90)
    Image.new("L", (2000, 2000), 255).save(flat, "JPEG", quality=1, progressive=True, optimize=True)
    cut = noisy.getvalue()[:5_000] + b"\xff\xd9"
    with pytest.raises(MediaError, match="truncated JPEG: 5002 bytes cannot hold the 2000x2000 picture"):
        load_image_bytes(cut, "cut.jpg")
    assert load_image_bytes(flat.getvalue()).shape == (2000, 2000, 3)  # ~2 bits per block: kept


def test_heic_says_it_cannot_be_decoded_here() -> None:
    head = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\0" * 64
    with pytest.raises(MediaError, match="a HEIC/HEIF image, which this build cannot decode"):
        load_image_bytes(head, "photo.heic")
