"""Reading media: images and videos into RGB uint8 arrays, with one-line errors for bad files."""

from __future__ import annotations

from fakelens.media.image import DEFAULT_MAX_PIXELS, load_image, load_image_bytes
from fakelens.media.kinds import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, iter_media, media_kind, sniff_kind
from fakelens.media.video import Frame, VideoInfo, probe_video, sample_frames

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "Frame",
    "VideoInfo",
    "iter_media",
    "load_image",
    "load_image_bytes",
    "media_kind",
    "probe_video",
    "sample_frames",
    "sniff_kind",
]
