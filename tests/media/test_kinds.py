from __future__ import annotations

from pathlib import Path

import pytest

from fakelens.errors import MediaError
from fakelens.media import iter_media, media_kind


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_kind_by_extension_case_insensitive(tmp_path: Path) -> None:
    assert media_kind(_touch(tmp_path / "a.JPG")) == "image"
    assert media_kind(_touch(tmp_path / "b.pgm")) == "image"
    assert media_kind(_touch(tmp_path / "c.Mp4")) == "video"
    assert media_kind(_touch(tmp_path / "d.webm")) == "video"


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image"),
        (b"GIF89a\x01\x00", "image"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image"),
        (b"II*\x00\x08\x00", "image"),
        (b"P6\n4 4\n255\n", "image"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00", "image"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00", "video"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86", "video"),
        (b"RIFF\x10\x00\x00\x00AVI LIST", "video"),
        (b"FLV\x01\x05", "video"),
    ],
)
def test_kind_by_magic_bytes(tmp_path: Path, head: bytes, kind: str) -> None:
    assert media_kind(_touch(tmp_path / "upload.bin", head + b"\0" * 32)) == kind
    assert media_kind(_touch(tmp_path / "noext", head + b"\0" * 32)) == kind


def test_kind_errors(tmp_path: Path) -> None:
    path = _touch(tmp_path / "notes.xyz", b"just some text")
    with pytest.raises(MediaError, match=r"unsupported file type '\.xyz'") as info:
        media_kind(path)
    assert str(path) in str(info.value)
    with pytest.raises(MediaError, match="no such file"):
        media_kind(tmp_path / "gone.jpg")
    with pytest.raises(MediaError, match="is a directory"):
        media_kind(tmp_path)


def test_iter_media_expands_folders(tmp_path: Path) -> None:
    root = tmp_path / "in"
    for rel in ["b.jpg", "a.MP4", "sub/c.png", "sub/deep/d.mkv", "notes.txt", ".hidden.jpg", ".cache/e.jpg"]:
        _touch(root / rel)
    got = list(iter_media([root]))
    assert got == [root / "a.MP4", root / "b.jpg", root / "sub" / "c.png", root / "sub" / "deep" / "d.mkv"]
    assert list(iter_media([root], recursive=False)) == [root / "a.MP4", root / "b.jpg"]


def test_iter_media_passes_files_through_and_dedupes(tmp_path: Path) -> None:
    _touch(tmp_path / "x.jpg")
    notes = _touch(tmp_path / "notes.txt")
    missing = tmp_path / "missing.mp4"
    given = [notes, missing, tmp_path / "x.jpg", tmp_path, str(tmp_path / "sub" / ".." / "x.jpg")]
    assert list(iter_media(given)) == [notes, missing, tmp_path / "x.jpg"]
