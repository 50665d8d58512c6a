"""ONNX export and ONNX Runtime inference of fakelens checkpoints.

An exported model is a folder: ``model.onnx`` (input ``input`` [N, 3, S, S], normalised like
``Preprocess``; outputs ``logit`` and ``prob`` = sigmoid(logit), both [N], plus ``video_logit`` and
``video_prob`` for an ensemble with a video combination; the batch axis is dynamic)
beside a copy of the checkpoint's ``config.json`` (face pipeline, preprocessing, threshold), so the
folder describes itself. ``model.onnx`` records a digest of the weights it came from, so an export left
beside retrained weights is noticed and not used. Exports use the TorchScript exporter
(``dynamo=False``), which needs no onnxscript, and are checked against PyTorch before they are kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import warnings
from pathlib import Path

import numpy as np
import torch

from fakelens.errors import FakelensError
from fakelens.faces.pipeline import FaceConfig
from fakelens.models.checkpoint import (
    CONFIG,
    WEIGHTS,
    build_model,
    parse_config,
    read_config,
    resolve_checkpoint,
)
from fakelens.models.scorer import VIDEO_KINDS, FeaturesUnavailable, batched
from fakelens.models.torch_backend import TorchScorer

ONNX_FILE = "model.onnx"
INPUT, OUTPUTS = "input", ("logit", "prob")
VIDEO_OUTPUTS = ("video_logit", "video_prob")  # only in graphs of ensembles with a video combination
FORMAT = (
    "fakelens-onnx-1"  # bump when the graph's inputs or required outputs change (video ones are optional)
)
DEFAULT_OPSET = 17
# an export whose logits differ from PyTorch's by more than this, relative to the logits' size (at
# least 1), is refused; on random-noise probes NPR's logits reach the hundreds and differ by ~3e-4
EXPORT_ATOL = 1e-4
BACKENDS = ("torch", "onnx", "auto")
# Faces per ONNX Runtime call: on 2 cores batch 4 gave 234 faces/s, 1: 204, 8: 216, 32: 188 (small
# batches stay in cache); benchmarks/bench_onnx.py --batches 1 2 4 8 16 32. A scan hardly cares.
ONNX_BATCH = 4


def cpu_threads() -> int:
    """Cores this process may run on (ONNX Runtime's intra-op threads), or ``$FAKELENS_THREADS``
    (a worker of a pool that shares the cores: ``scan --engine ray``)."""
    if os.environ.get("FAKELENS_THREADS", "").isdigit() and int(os.environ["FAKELENS_THREADS"]) > 0:
        return int(os.environ["FAKELENS_THREADS"])
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def cache_root() -> Path:
    """Where exports made on demand are kept: ``$FAKELENS_CACHE/onnx``, else ``~/.cache/fakelens/onnx``."""
    base = os.environ.get("FAKELENS_CACHE")
    if base:
        return Path(base).expanduser() / "onnx"
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg) / "fakelens" / "onnx"


def source_digest(folder: Path, cfg: dict) -> str:
    """Hash of what decides the graph: the weights file, architecture, model kwargs and input size."""
    h = hashlib.sha256(FORMAT.encode())
    arch = {k: cfg.get(k) for k in ("architecture", "model_kwargs", "calibration")}
    arch["input_size"] = cfg.get("preprocess", {}).get("input_size")
    h.update(json.dumps(arch, sort_keys=True).encode())
    with open(Path(folder) / WEIGHTS, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


class _LogitAndProb(torch.nn.Module):
    """The exported graph: one forward, both outputs (so callers never re-derive the sigmoid); an
    ensemble with a video combination adds the video faces' logit and probability from the same
    member logits."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net
        self.video = bool(getattr(net, "has_video_combination", False))

    def output_names(self) -> list[str]:
        return [*OUTPUTS, *VIDEO_OUTPUTS] if self.video else list(OUTPUTS)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if not self.video:
            logit = self.net(x).float()
            return logit, torch.sigmoid(logit)
        members = self.net.member_logits(x)
        logit, video = self.net.combine(members).float(), self.net.combine(members, video=True).float()
        return logit, torch.sigmoid(logit), video, torch.sigmoid(video)


def session_options(threads: int | None = None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads or cpu_threads()
    opts.inter_op_num_threads = 1
    # No busy-waiting between calls: a scan alternates inference with OpenCV/dlib face work, which
    # spinning threads slow down (demo/ scan 0.45 s without spinning vs 0.50-0.55 s with).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3  # errors only
    return opts


def open_session(path: Path, input_size: int | None = None, threads: int | None = None):
    """An ONNX Runtime session for a fakelens export; bad files give a one-line FakelensError."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise FakelensError("no such ONNX file", path, verb="cannot load model")
    try:
        sess = ort.InferenceSession(str(path), session_options(threads), providers=["CPUExecutionProvider"])
    except Exception as err:  # noqa: BLE001 - onnxruntime raises its own pybind11 error types
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise FakelensError(
            f"not a readable ONNX model ({reason[:200]})", path, verb="cannot load model"
        ) from None
    inputs, outputs = sess.get_inputs(), [o.name for o in sess.get_outputs()]
    if [i.name for i in inputs] != [INPUT] or not set(OUTPUTS) <= set(outputs):
        raise FakelensError(
            f"not a fakelens export (inputs {[i.name for i in inputs]}, outputs {outputs}; "
            f"expected {INPUT} -> {', '.join(OUTPUTS)})",
            path,
            verb="cannot load model",
        )
    shape = inputs[0].shape
    if input_size is not None and (len(shape) != 4 or list(shape[1:]) != [3, input_size, input_size]):
        raise FakelensError(
            f"the graph takes {shape}, but config.json says {input_size} px input",
            path,
            verb="cannot load model",
        )
    return sess


def run_session(sess, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(logits, probabilities) for a normalised NCHW float32 batch."""
    logit, prob = sess.run(list(OUTPUTS), {INPUT: np.ascontiguousarray(x, dtype=np.float32)})
    return logit, prob


def _export_graph(folder: Path, cfg: dict, dest: Path, opset: int) -> Path:
    """Export, stamp the source digest, check against PyTorch at two batch sizes, then move into place."""
    import onnx

    pre, _, _ = parse_config(cfg, folder)
    net = build_model(cfg, folder)
    gen = torch.Generator().manual_seed(0)
    sample = torch.randn(2, 3, pre.input_size, pre.input_size, generator=gen)
    graph_module = _LogitAndProb(net).eval()
    names = graph_module.output_names()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{threading.get_ident()}.tmp")  # concurrent loads
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
            torch.onnx.export(
                graph_module,
                (sample,),
                str(tmp),
                dynamo=False,
                opset_version=opset,
                input_names=[INPUT],
                output_names=names,
                dynamic_axes={name: {0: "batch"} for name in (INPUT, *names)},
            )
        graph = onnx.load(str(tmp))
        meta = {
            "fakelens_format": FORMAT,
            "fakelens_source": source_digest(folder, cfg),
            "fakelens_name": str(cfg.get("name", folder.name)),
        }
        for key, value in meta.items():
            graph.metadata_props.add(key=key, value=value)
        onnx.checker.check_model(graph)
        onnx.save(graph, str(tmp))
        sess = open_session(tmp, pre.input_size)
        for n in (1, 3):  # not the traced batch size: proves the batch axis is dynamic
            x = torch.randn(n, 3, pre.input_size, pre.input_size, generator=gen)
            with torch.inference_mode():
                wants = [out.numpy() for out in graph_module(x)[::2]]  # the logits
            got = sess.run(names[::2], {INPUT: x.numpy()})
            for want, have in zip(wants, got, strict=True):
                diff = float(np.abs(have - want).max())
                scale = max(1.0, float(np.abs(want).max()))
                if not diff <= EXPORT_ATOL * scale:
                    raise RuntimeError(
                        f"ONNX export of '{folder}' differs from PyTorch by {diff:.2e} "
                        f"(> {EXPORT_ATOL} x logit size {scale:.3g})"
                    )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def export_onnx(
    model: str | Path | None = None, out: str | Path | None = None, opset: int = DEFAULT_OPSET
) -> Path:
    """Export a checkpoint (shipped name or folder) to ``model.onnx`` + a copy of its ``config.json``.

    ``out``: a folder (default ``./<name>-onnx``) or a ``.onnx`` file path; config.json goes beside it.
    Returns the path of the ONNX file.
    """
    top = getattr(getattr(torch.onnx, "_constants", None), "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", 20)
    if not 7 <= opset <= top:
        raise ValueError(f"opset {opset} is outside what torch's TorchScript exporter writes (7-{top})")
    folder = resolve_checkpoint(model)
    cfg = read_config(folder)
    if not (folder / WEIGHTS).is_file():
        raise FakelensError(
            f"no {WEIGHTS} to export (is it already an ONNX folder?)", folder, verb="cannot export"
        )
    name = str(cfg.get("name", folder.name))
    out = Path(out) if out is not None else Path(f"{name}-onnx")
    dest = out if out.suffix == ".onnx" else out / ONNX_FILE
    described = dict(cfg, onnx={"file": dest.name, "opset": opset, "source": source_digest(folder, cfg)})
    cfg_path = dest.parent / CONFIG
    same_folder = dest.parent.resolve() == folder.resolve()
    if cfg_path.is_file() and not same_folder:
        try:
            old = json.loads(cfg_path.read_text())
        except json.JSONDecodeError:
            old = None
        if not isinstance(old, dict) or {k: v for k, v in old.items() if k != "onnx"} != cfg:
            raise FakelensError(
                f"the folder holds the {CONFIG} of another model; choose another --out",
                dest.parent,
                verb="cannot export to",
            )
    _export_graph(folder, cfg, dest, opset)
    if not same_folder:  # the checkpoint's own config.json already describes it
        cfg_path.write_text(json.dumps(described, indent=2, sort_keys=True) + "\n")
    return dest


class OnnxScorer:
    """A ``Scorer`` whose ``predict_proba`` runs in ONNX Runtime on the same preprocessing.

    It holds, not inherits, a PyTorch scorer for what the graph cannot do (Grad-CAM heat maps through
    ``model``, and ``features``); that one loads from the checkpoint's weights on first use. An
    ONNX-only folder has none, and asking for it raises a one-line FakelensError.
    """

    backend = "onnx"

    def __init__(
        self, session, onnx_path: Path, cfg: dict, folder: Path, weights: Path | None, why_not: str = ""
    ):
        pre, face, threshold = parse_config(cfg, folder)
        self.session, self.onnx_path = session, Path(onnx_path)
        self.preprocess, self.face, self.threshold = pre, face, threshold
        self.name, self.config = str(cfg.get("name", folder.name)), cfg
        self.batch_size = ONNX_BATCH
        self._weights, self._why_not, self._torch = weights, why_not, None
        self.has_video_output = VIDEO_OUTPUTS[1] in {o.name for o in session.get_outputs()}
        if "video" in (cfg.get("model_kwargs") or {}) and not self.has_video_output:
            raise FakelensError(
                "config.json has a video combination the ONNX graph lacks (an older export): export again",
                onnx_path,
                verb="cannot load model",
            )

    def __repr__(self) -> str:
        return f"OnnxScorer(name={self.name!r}, onnx={str(self.onnx_path)!r}, threshold={self.threshold})"

    @property
    def framing(self) -> FaceConfig:
        return self.face

    @property
    def can_explain(self) -> bool:
        """Whether PyTorch weights (needed for Grad-CAM and features) are available."""
        return self._torch is not None or self._weights is not None

    @property
    def torch_scorer(self) -> TorchScorer:
        """The same checkpoint in PyTorch, loaded on first use (heat maps, features)."""
        if self._torch is None:
            if self._weights is None:
                raise FakelensError(
                    f"heat maps need PyTorch weights: {self._why_not} (load the checkpoint folder instead)",
                    self.onnx_path,
                    verb="cannot explain with",
                )
            net = build_model(self.config, self._weights)
            self._torch = TorchScorer(net, self.preprocess, self.face, self.threshold, self.name, self.config)
        return self._torch

    @property
    def model(self):
        """The PyTorch network, for Grad-CAM (``scan/explain.py``)."""
        return self.torch_scorer.model

    def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(logits, probabilities) for a preprocessed NCHW batch."""
        return run_session(self.session, x)

    def predict_proba(self, crops: list[np.ndarray], kind: str = "image") -> np.ndarray:
        video = kind in VIDEO_KINDS and self.has_video_output

        def run(batch, _offset):
            # NumPy, not to_tensor: a torch op wakes torch's OpenMP threads, whose spinning then
            # competes with ONNX Runtime's (batch 1 ran at a third of its speed on 2 cores).
            x = np.ascontiguousarray(self.preprocess.normalize(batch).transpose(0, 3, 1, 2), np.float32)
            if video:
                return self.session.run([VIDEO_OUTPUTS[1]], {INPUT: x})[0]
            return self.run(x)[1]

        return batched(crops, self.batch_size, run)

    def features(self, crops: list[np.ndarray]) -> np.ndarray:
        """The graph exports only logit and prob, so features come from the PyTorch weights."""
        if not self.can_explain:
            raise FeaturesUnavailable(self.name, f"the ONNX graph has no feature output and {self._why_not}")
        return self.torch_scorer.features(crops)


OnnxDetector = OnnxScorer  # the name before the Scorer protocol


def _meta(session) -> dict:
    return dict(session.get_modelmeta().custom_metadata_map)


def load_onnx_scorer(model: str | Path | None = None, backend: str = "onnx") -> OnnxScorer | None:
    """``load_detector``'s ONNX half: ``None`` where ``backend="auto"`` should fall back to PyTorch.

    Uses ``model.onnx`` from the folder (or a given ``.onnx`` file, with config.json beside it) when it
    came from the folder's weights; otherwise exports once into ``cache_root()/<name>-<digest>/``.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        if backend == "auto":
            return None
        raise FakelensError("the onnx backend needs onnxruntime (pip install onnxruntime==1.31.1)") from None
    explicit = model is not None and str(model).endswith(".onnx")
    if explicit:
        path = Path(model)
        if not path.is_file():
            raise FakelensError("no such ONNX file", path, verb="cannot load model")
        folder = path.parent
    else:
        folder = resolve_checkpoint(model)
        path = folder / ONNX_FILE
    cfg = read_config(folder)
    pre, _, _ = parse_config(cfg, folder)
    has_weights = (folder / WEIGHTS).is_file()
    digest = source_digest(folder, cfg) if has_weights else None
    if path.is_file():
        sess = open_session(path, pre.input_size)
        if digest is None:
            return OnnxScorer(sess, path, cfg, folder, None, f"'{folder}' has no {WEIGHTS}")
        if _meta(sess).get("fakelens_source") == digest:
            return OnnxScorer(sess, path, cfg, folder, folder)
        if explicit:  # run what was asked for, but never explain it with other weights
            why = f"it was not exported from the {WEIGHTS} beside it"
            return OnnxScorer(sess, path, cfg, folder, None, why)
        warnings.warn(f"{path} was exported from other weights; using a fresh export", stacklevel=3)
    if not has_weights:
        raise FakelensError(f"neither {ONNX_FILE} nor {WEIGHTS}", folder, verb="cannot load model")
    label = re.sub(r"[^\w.-]+", "_", str(cfg.get("name", folder.name)))[:60]
    cached = cache_root() / f"{label}-{digest}" / ONNX_FILE
    if not cached.is_file():
        try:
            _export_graph(folder, cfg, cached, DEFAULT_OPSET)
        except Exception as err:  # noqa: BLE001 - e.g. a read-only home or an op the exporter lacks
            if backend != "auto":
                raise
            warnings.warn(f"no ONNX export ({' '.join(str(err).split())[:200]}); using PyTorch", stacklevel=3)
            return None
    return OnnxScorer(open_session(cached, pre.input_size), cached, cfg, folder, folder)
