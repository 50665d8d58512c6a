"""The video combination of an ensemble: the network, both backends, the scanner's choice, the fit."""

from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from fakelens.errors import ConfigError
from fakelens.models import create_model
from fakelens.train.ensemble import fit_combination
from fakelens.train.ensemble_video import VideoFit, driving_tracks, fit_video_combination, portrait_frames

MEMBERS = [{"architecture": "tiny-cnn"}, {"architecture": "tiny-cnn"}]
VIDEO = {"weights": [0.2, 2.0], "offsets": [-1.0, 0.5], "bias": 0.25}


def _ensemble(video=VIDEO):
    torch.manual_seed(0)
    return create_model(
        "ensemble", members=MEMBERS, weights=[1.0, 0.5], mode="max", offsets=[0.0, 2.0], video=video
    ).eval()


def test_video_faces_take_the_video_combination_and_photos_keep_theirs():
    net = _ensemble()
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        each = net.member_logits(x)
        photo = torch.maximum(each[:, 0], 0.5 * each[:, 1] + 2.0)
        video = torch.maximum(0.2 * each[:, 0] - 1.0, 2.0 * each[:, 1] + 0.5) + 0.25
        assert torch.allclose(net(x), photo, atol=1e-6)
        assert torch.allclose(net(x, video=True), video, atol=1e-6)
    assert not any(k.startswith("video") for k in net.state_dict())  # config.json carries them
    with pytest.raises(ValueError, match="no video combination"):
        _ensemble(video=None)(x, video=True)
    with pytest.raises(ValueError, match="video weights"):
        _ensemble(video={"weights": [1.0], "offsets": [0.0, 0.0]})


def _checkpoint(tmp_path, tiny_detector, video=VIDEO):
    from fakelens.models.checkpoint import save_checkpoint

    kwargs = {"members": MEMBERS, "mode": "max", "offsets": [0.0, 2.0], **({"video": video} if video else {})}
    net = _ensemble(video)
    cfg = {
        "architecture": "ensemble",
        "model_kwargs": kwargs,
        "preprocess": {"input_size": 64},
        "face": tiny_detector.face.to_dict(),
    }
    return save_checkpoint(tmp_path / "ens", net, cfg), net


def test_both_backends_score_video_faces_with_the_video_combination(tmp_path, tiny_detector):
    from fakelens.models.detector import load_detector

    folder, net = _checkpoint(tmp_path, tiny_detector)
    crops = [np.random.default_rng(i).integers(0, 255, (96, 96, 3), dtype=np.uint8) for i in range(5)]
    torch_det = load_detector(folder, backend="torch")
    x = torch_det.preprocess.to_tensor(crops)
    with torch.no_grad():
        want_photo, want_video = torch.sigmoid(net(x)).numpy(), torch.sigmoid(net(x, video=True)).numpy()
    assert not np.allclose(want_photo, want_video, atol=1e-3)
    onnx_det = load_detector(folder, backend="onnx")
    for det, tol in ((torch_det, 1e-5), (onnx_det, 1e-4)):
        assert np.allclose(det.predict_proba(crops), want_photo, atol=tol)
        assert np.allclose(det.predict_proba(crops, kind="image"), want_photo, atol=tol)
        for kind in ("video", "animation"):
            assert np.allclose(det.predict_proba(crops, kind=kind), want_video, atol=tol)


def test_an_onnx_graph_without_the_video_outputs_its_config_asks_for_is_refused(tmp_path, tiny_detector):
    import json

    from fakelens.errors import FakelensError
    from fakelens.models.onnx_backend import export_onnx, load_onnx_scorer

    folder, _ = _checkpoint(tmp_path, tiny_detector, video=None)
    onnx = export_onnx(folder, tmp_path / "exported")
    cfg_path = onnx.parent / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["model_kwargs"]["video"] = VIDEO  # a config edited after the export
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(FakelensError, match="video combination the ONNX graph lacks"):
        load_onnx_scorer(onnx)


def _val(paths, families, labels):
    n = len(paths)
    return SimpleNamespace(
        paths=np.array(paths),
        families=np.array(families),
        sources=np.array([Path(p).parent.name for p in paths]),
        y=torch.tensor(labels, dtype=torch.float32),
        x=None,
    ), n


def _faceset(crops, landmarks, paths):
    return SimpleNamespace(crops=np.stack(crops), landmarks=np.stack(landmarks), paths=list(paths))


def _moving_face(face_pipeline, astronaut, n: int):
    from fakelens.faces.landmarks import landmarks68

    crop = face_pipeline.extract(astronaut)[0].crop
    lm = landmarks68(crop, face_pipeline.config.crop)
    return crop, [lm + np.float32([0.0, 1.5 * t]) for t in range(n)]


def test_driving_tracks_are_the_validation_clips_from_the_manifest_in_frame_order(face_pipeline, astronaut):
    crop, lms = _moving_face(face_pipeline, astronaut, 5)
    paths = [
        "v/real/a_f00009.png",
        "v/real/a_f00002.png",
        "v/real/a_f00005.png",
        "v/real/b_f00001.png",
        "p.png",
    ]
    order = [2, 0, 1, 3, 4]  # a's frames listed out of order
    faces = _faceset([crop] * 5, [lms[i] for i in order], paths)
    rows = {p: p.split("/")[-1].split("_f")[0] for p in paths[:4]}  # p.png is a photo: no row
    tracks = driving_tracks(faces, rows, min_frames=2)
    assert list(tracks) == ["a"]  # b has one frame, the photo none
    assert np.allclose(tracks["a"], np.stack([lms[0], lms[1], lms[2]]))  # f00002, f00005, f00009


def test_portraits_animate_only_generated_stills_each_by_one_clip(face_pipeline, astronaut):
    crop, lms = _moving_face(face_pipeline, astronaut, 4)
    stills = ["s/synthetic/gan/sfhq-stylegan2-figtiles/x.png", "s/synthetic/diffusion/sdfd-gebaltso/y.jpg"]
    others = ["v/lipsync/a_0_f00001.png", "s/unknownfolder/z.png"]  # a manifest fake; no GAN family
    fakes = _faceset([crop] * 4, [lms[0]] * 4, stills + others)
    rows = {others[0]: "lipsync/a_0"}
    tracks = {"a": np.stack(lms), "b": np.stack(lms[::-1])}
    frames, origins = portrait_frames(fakes, rows, tracks, copies=1, seed=0)
    assert origins == [stills[0]] * 4 + [stills[1]] * 4 and all(f.shape == crop.shape for f in frames)
    again, _ = portrait_frames(fakes, rows, tracks, copies=1, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(frames, again, strict=True))
    assert portrait_frames(fakes, rows, tracks, copies=0, seed=0) == ([], [])


def test_the_video_fit_reads_only_video_faces_and_adds_portraits(tmp_path, face_pipeline, astronaut):
    import json

    crop, lms = _moving_face(face_pipeline, astronaut, 4)
    manifest = tmp_path / "manifest.jsonl"
    video_paths = [str(tmp_path / f"real/a_f{t:05d}.png") for t in range(4)]
    for p in video_paths:
        Path(p).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(p, crop[..., ::-1])
    manifest.write_text(
        "".join(
            json.dumps({"path": p, "label": "real", "video_id": "a", "split": "val"}) + "\n"
            for p in video_paths
        )
    )
    photo = str(tmp_path / "photos/p.png")
    faces = SimpleNamespace(
        val=_faceset([crop] * 5, [*lms, lms[0]], [*video_paths, photo]),
        fakes_val=_faceset([crop], [lms[0]], ["s/synthetic/gan/gpen-seg2face/1_GPEN.jpg"]),
    )
    # the validation set: 4 video reals, their 4 self-blends, the photo real and its self-blend
    val, _ = _val(
        [*video_paths, *video_paths, photo, photo],
        ["real"] * 4 + ["self-blend"] * 4 + ["real", "self-blend"],
        [0] * 4 + [1] * 4 + [0, 1],
    )
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(10, 2))
    seen = {}

    def fit(x, y, w):
        seen.update(x=x, y=y, w=w)
        return fit_combination(x, y, "max", w)

    combination, data = fit_video_combination(
        VideoFit(portraits=1, min_frames=2),
        manifest,
        faces,
        val,
        logits,
        lambda frames: np.full((len(frames), 2), 3.0),
        fit=fit,
        weigh=lambda fam, src: np.ones(len(fam)),
        seed=0,
    )
    assert len(seen["x"]) == 8 + 4  # the photo's two faces are left out; 4 portrait frames added
    assert np.allclose(seen["x"][:8], logits[:8]) and np.allclose(seen["x"][8:], 3.0)
    assert seen["y"].tolist() == [0] * 4 + [1] * 8
    assert data["report"]["families"] == {"portrait": 4, "real": 4, "self-blend": 4}
    assert set(combination) == {"weights", "offsets", "bias"}
    with pytest.raises(ConfigError, match="no validation GAN/diffusion still"):
        empty = SimpleNamespace(val=faces.val, fakes_val=None)
        fit_video_combination(VideoFit(min_frames=2), manifest, empty, val, logits, None, fit, None, 0)
    with pytest.raises(ConfigError, match="no validation face comes from data.manifest"):
        other, _ = _val([photo, photo], ["real", "self-blend"], [0, 1])
        fit_video_combination(VideoFit(), manifest, faces, other, logits[:2], None, fit, None, 0)


def test_a_video_fit_needs_a_manifest_and_a_fitting_mode(tmp_path):
    from fakelens.train.ensemble import EnsembleConfig

    path = tmp_path / "ens.yaml"
    for extra, message in (("mode: max", "video needs data.manifest"), ("mode: average", "video needs mode")):
        path.write_text(
            f"name: e\nout_dir: out\nmembers: [a, b]\n{extra}\nvideo: {{}}\ndata: {{real_dirs: [r]}}\n"
        )
        with pytest.raises(ConfigError, match=message):
            EnsembleConfig.from_yaml(path)


def test_heat_maps_of_video_faces_explain_the_video_combination(tiny_detector):
    from fakelens.models.detector import Detector
    from fakelens.scan.explain import grad_cam

    torch.manual_seed(0)
    # photos: member 0 always decides; videos: member 1 always decides
    video = {"weights": [1.0, 1.0], "offsets": [-100.0, 0.0], "bias": 0.0}
    net = create_model("ensemble", members=MEMBERS, mode="max", offsets=[0.0, -100.0], video=video).eval()
    det = Detector(net, tiny_detector.preprocess, tiny_detector.face, threshold=0.5, name="two")
    crop = np.random.default_rng(0).integers(0, 255, (96, 96, 3), dtype=np.uint8)

    def cam_of(member: int) -> np.ndarray:  # Grad-CAM by hand on one member's logit
        x = det.preprocess.to_tensor([crop])
        feats = net.members[member].forward_features(x).detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(net.members[member].forward_head(feats)[0], feats)
        cam = torch.relu((grad.mean(dim=(2, 3), keepdim=True) * feats).sum(1))[0].detach().numpy()
        return cv2.resize(cam / max(cam.max(), 1e-12), (96, 96), interpolation=cv2.INTER_LINEAR)

    first, second = cam_of(0), cam_of(1)
    assert not np.allclose(first, second, atol=1e-2)
    assert np.allclose(grad_cam(det, crop), first, atol=1e-4)
    assert np.allclose(grad_cam(det, crop, "video"), second, atol=1e-4)


def test_a_calibration_over_a_video_combination_is_refused():
    from fakelens.models.calibrated import Calibrated

    with pytest.raises(ConfigError, match="video combination"):
        Calibrated(_ensemble(), scale=0.5)


def test_a_video_fit_refuses_a_validation_manifest_fold(tmp_path):
    from fakelens.train.ensemble import EnsembleConfig

    path = tmp_path / "ens.yaml"
    path.write_text(
        "name: e\nout_dir: out\nmembers: [a, b]\nmode: max\nvideo: {}\n"
        "data: {manifest: m.jsonl, val_manifest: v.jsonl}\n"
    )
    with pytest.raises(ConfigError, match="val_manifest fold is not supported"):
        EnsembleConfig.from_yaml(path)
