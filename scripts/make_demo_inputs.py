"""Build the demo inputs shipped in demo/ (all free to redistribute).

- astronaut.png: scikit-image's public-domain NASA portrait of Eileen Collins.
- astronaut-sbi.png: the same photo with its face self-blended by fakelens.forge.sbi (seed 3), pasted
  back into the full photo: a training-style forgery whose answer we know.
- astronaut-pan.mp4: a 3 s, 25 fps H.264 clip panning over the photo, to demo video scanning.

Run: .venv/bin/python scripts/make_demo_inputs.py  (needs the dev extra for scikit-image)
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
from skimage import data

from fakelens.faces import FacePipeline
from fakelens.forge import self_blend_photo

OUT = Path(__file__).resolve().parents[1] / "demo"


def sbi_photo(image: np.ndarray, seed: int = 3) -> np.ndarray:
    """Self-blend the face; take the first seed from ``seed`` whose blend ratio is 1 (a clear forgery)."""
    pipe = FacePipeline()
    while True:
        result = self_blend_photo(image, pipe, np.random.default_rng(seed))
        if result.mask.max() > 0.99:
            return result.fake
        seed += 1


def pan_clip(image: np.ndarray, path: Path, seconds: float = 3.0, fps: int = 25) -> None:
    h, w = image.shape[:2]
    out_w, out_h = 384, 384
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = out_w, out_h, "yuv420p"
        stream.options = {"crf": "23", "preset": "medium"}
        n = int(seconds * fps)
        for i in range(n):
            x = int((w - out_w) * (0.2 + 0.3 * i / max(n - 1, 1)))
            frame = np.ascontiguousarray(image[40 : 40 + out_h, x : x + out_w])
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    image = data.astronaut()
    cv2.imwrite(str(OUT / "astronaut.png"), image[..., ::-1])
    cv2.imwrite(str(OUT / "astronaut-sbi.png"), sbi_photo(image)[..., ::-1])
    pan_clip(image, OUT / "astronaut-pan.mp4")
    for p in sorted(OUT.iterdir()):
        print(f"{p.name}: {p.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
