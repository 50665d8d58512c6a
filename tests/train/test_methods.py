"""Training methods as plugins: one registration per method, options and architectures checked when the
recipe is read, dict batches, and the quality curriculum's rated fakes and pacing."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from pydantic import BaseModel, ConfigDict
from safetensors.torch import load_file

from fakelens.data.facecache import build_faceset
from fakelens.data.sbi_dataset import SBIPairs
from fakelens.errors import ConfigError
from fakelens.faces import FaceConfig
from fakelens.models import create_model
from fakelens.models.methods import _INDEX, Method, get_method, list_methods, register_method
from fakelens.models.quality import QualityCurriculum, QualityOptions, psnr, rank01
from fakelens.preprocess import Preprocess
from fakelens.train.config import TrainConfig
from fakelens.train.loop import train


@pytest.fixture(scope="module")
def real_dir(tmp_path_factory, astronaut):
    d = tmp_path_factory.mktemp("reals")
    h, w = astronaut.shape[:2]
    for i in range(10):
        s = 0.6 + 0.03 * i
        m = np.array([[s, 0, 20 * (i % 4)], [0, s, 10 * (i % 3)]], dtype=np.float32)
        img = cv2.warpAffine(astronaut, m, (int(w * 0.8), int(h * 0.8)), borderMode=cv2.BORDER_REFLECT)
        cv2.imwrite(str(d / f"face_{i:02d}.png"), np.ascontiguousarray(img[..., ::-1]))
    return d


def recipe(tmp_path, real_dir, method: dict | None = None, architecture: str = "tiny-cnn", epochs: int = 1):
    cfg = {
        "name": "tiny-test",
        "out_dir": str(tmp_path / "run"),
        "model": {"architecture": architecture, "pretrained": False, "input_size": 64, "drop_rate": 0.0},
        "data": {
            "real_dirs": [str(real_dir)],
            "val_fraction": 0.3,
            "test_fraction": 0.0,
            "cache_dir": str(tmp_path / "cache"),
        },
        "train": {"epochs": epochs, "pairs_per_batch": 4, "lr": 0.003, "num_workers": 0},
        "face": {"crop": {"size": 96}},
    }
    if method is not None:
        cfg["method"] = method
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


class ToyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scale: float = 1.0


@register_method("toy-test", options=ToyOptions)
class Toy(Method):
    """A new method in one place: options, loss, state. It records what the loop hands it."""

    keys: set[str] = set()

    def __init__(self, options=None, seed: int = 0, epochs: int = 1):
        super().__init__(options, seed, epochs)
        self.steps = 0

    def loss(self, model, batch):
        Toy.keys |= set(batch)
        self.steps += 1
        return self.opts.scale * F.binary_cross_entropy_with_logits(model(batch["image"]), batch["label"])

    def report(self):
        return {**super().report(), "steps": self.steps}

    def state_dict(self):
        return {"steps": torch.tensor([self.steps])}

    def load_state_dict(self, state):
        self.steps = int(state["steps"][0])


def test_a_method_registered_in_one_place_trains_from_a_recipe_and_resumes(tmp_path, real_dir):
    path = recipe(tmp_path, real_dir, {"name": "toy-test", "scale": 0.5})
    folder = train(TrainConfig.from_yaml(path))
    assert {"image", "label", "kind", "index", "variant"} <= Toy.keys  # dict batches
    record = json.loads((folder / "config.json").read_text())["training"]["method"]
    assert record["name"] == "toy-test" and record["scale"] == 0.5 and record["steps"] > 0
    steps = record["steps"]
    train(TrainConfig.from_yaml(path, {"train.epochs": 2}), resume=True)  # its state comes back
    state = load_file(str(tmp_path / "run" / "last" / "method.safetensors"))
    assert int(state["steps"][0]) == 2 * steps  # continued, not restarted at 0
    assert "toy-test" in list_methods()


def test_every_built_in_method_registers_itself_from_its_file():
    for name, module in _INDEX.items():
        cls = get_method(name)
        assert cls.name == name and cls.__module__ == module
        assert cls.options.model_config.get("extra") == "forbid"


def test_registration_refuses_duplicates_and_lenient_options():
    with pytest.raises(ValueError, match="registered twice"):
        register_method("plain")(type("Other", (Method,), {}))

    class Lenient(BaseModel):
        x: int = 0

    with pytest.raises(ValueError, match="extra='forbid'"):
        register_method("lenient-test", options=Lenient)(type("L", (Method,), {}))


@pytest.mark.parametrize(
    ("method", "architecture", "message"),
    [
        ({"name": "acmf", "colour": "red"}, "tiny-cnn", r"method\.colour: not an option of method 'acmf'"),
        ({"name": "acmf", "drop": [0.5, 0.1]}, "tiny-cnn", r"method\.drop: .*low <= high"),
        ({"name": "acmff"}, "tiny-cnn", r"unknown method 'acmff' \(did you mean 'acmf'\?"),
        (
            {"name": "hierarchical"},
            "tiny-cnn",
            r"'hierarchical' cannot train .*'tiny-cnn': it trains hfc-mffd",
        ),
        ({"name": "lsda"}, "hfc-mffd", r"'lsda' cannot train .*'hfc-mffd': it needs the model's drop, head"),
    ],
)
def test_method_problems_are_one_line_config_errors_at_load(
    tmp_path, real_dir, method, architecture, message
):
    with pytest.raises(ConfigError, match=message) as err:
        TrainConfig.from_yaml(recipe(tmp_path, real_dir, method, architecture))
    assert "\n" not in str(err.value) and "recipe.yaml" in str(err.value)


def test_old_strategy_keys_say_what_to_write(tmp_path, real_dir):
    path = recipe(tmp_path, real_dir)
    with pytest.raises(ConfigError, match=r"train\.strategy is now method\.name"):
        TrainConfig.from_yaml(path, {"train.strategy": "acmf"})
    with pytest.raises(ConfigError, match="method: {name: quality"):
        TrainConfig.from_yaml(path, {"quality.alpha": 1.0})


def test_hierarchical_forgery_type_comes_from_the_batch_kind():
    """Level 2 learns self-blend (kind 1) vs ready-made (kind 2) from each image's own kind, whatever
    the order of images in the batch."""
    torch.manual_seed(0)
    model = create_model("hfc-mffd", input_size=64, dim=32).eval()
    method = get_method("hierarchical")()
    x = torch.rand(4, 3, 64, 64)
    batch = {"image": x, "label": torch.tensor([1.0, 0.0, 1.0, 0.0])}
    a = method.loss(model, {**batch, "kind": torch.tensor([2, 0, 1, 0])})
    b = method.loss(model, {**batch, "kind": torch.tensor([1, 0, 2, 0])})
    with torch.no_grad():
        out = model.branch_outputs(model.forward_features(x))
        level2 = (out["type"] * torch.softmax(model.level2, dim=0)[None, :, None]).sum(dim=1)[[0, 2]]
        want = F.cross_entropy(level2, torch.tensor([1, 0])) - F.cross_entropy(level2, torch.tensor([0, 1]))
    assert float((a - b).detach()) == pytest.approx(float(want), abs=1e-5) and abs(float(want)) > 1e-6


def _curriculum(n: int, k: int, epochs: int = 5, **opts) -> QualityCurriculum:
    q = QualityCurriculum(QualityOptions(fakes_per_face=k, **opts), seed=3, epochs=epochs)
    rng = np.random.default_rng(0)
    q.static, q.dynamic = rng.normal(size=(n, k)), rng.normal(size=(n, k))
    return q


def test_quality_pace_zero_is_a_permutation_and_later_epochs_favour_hard_fakes():
    n, k = 400, 4
    q = _curriculum(n, k)
    q.plan(0)
    first = q.order(0, n)
    assert sorted(first) == list(range(n))  # every item exactly once: sampled without replacement
    q.plan(4)
    last = q.order(4, n)
    assert sorted(last) == list(range(n))
    fake_rank = rank01(q.scores())
    chosen = fake_rank[np.arange(n), q.variants]
    assert chosen.mean() > 0.55  # harder fakes of each face are chosen more often (uniform: 0.5)
    item_rank = rank01(chosen)
    assert item_rank[last[: n // 2]].mean() > 0.55  # and drawn earlier (uniform: 0.5 in expectation)
    q.plan(0)
    assert abs(rank01(q.scores())[np.arange(n), q.variants].mean() - 0.5) < 0.05  # pace 0: uniform


def test_quality_rates_exactly_the_fixed_fakes_it_trains_on(real_dir, tmp_path):
    faces = build_faceset(sorted(real_dir.glob("face_*.png"))[:3], FaceConfig(), tmp_path)
    ds = SBIPairs(faces, Preprocess(64), seed=1, augment=False)
    q = QualityCurriculum(QualityOptions(fakes_per_face=2, easy_share=0.0), seed=1, epochs=3)
    q.start_epoch(0, None, ds)
    assert q.static.shape == (3, 2)
    for i in range(3):
        v = int(q.variants[i])
        fixed = ds.fixed_fake(i, v)
        assert np.array_equal(ds.item(i)[1], fixed.fake)  # the fake trained on is the rated one
        assert q.static[i, v] == pytest.approx(psnr(fixed.fake, fixed.target))
        assert ds[i]["variant"].tolist() == [-1, v]
    ds.set_epoch(2)
    assert np.array_equal(ds.item(0)[1], ds.fixed_fake(0, int(q.variants[0])).fake)  # the same each epoch


def test_quality_method_trains_and_keeps_its_scores_for_a_resume(tmp_path, real_dir):
    path = recipe(tmp_path, real_dir, {"name": "quality", "easy_share": 0.5, "fakes_per_face": 2}, epochs=3)
    folder = train(TrainConfig.from_yaml(path))
    state = load_file(str(tmp_path / "run" / "last" / "method.safetensors"))
    training = json.loads((folder / "config.json").read_text())["training"]
    n = training["train_faces"]
    assert state["static"].shape == (n, 2) and torch.isfinite(state["static"]).all()
    assert (~torch.isnan(state["dynamic"])).any()
    assert training["method"]["name"] == "quality" and training["method"]["fakes_rated"] == 2 * n


def test_an_interrupted_quality_run_resumes_exactly(tmp_path, real_dir):
    method = {"name": "quality", "easy_share": 0.5, "fakes_per_face": 2}
    train(TrainConfig.from_yaml(recipe(tmp_path / "straight", real_dir, method, epochs=2)))
    cut = recipe(tmp_path / "cut", real_dir, method, epochs=2)
    train(TrainConfig.from_yaml(cut, {"train.max_minutes": 1e-6}))  # stops after its first epoch
    train(TrainConfig.from_yaml(cut), resume=True)
    for name in ("weights.safetensors", "method.safetensors"):
        a = load_file(str(tmp_path / "straight" / "run" / "last" / name))
        b = load_file(str(tmp_path / "cut" / "run" / "last" / name))
        assert a.keys() == b.keys()
        assert all(torch.allclose(a[k].double(), b[k].double(), atol=1e-6, equal_nan=True) for k in a), name


def test_freda_counts_as_seen_for_a_quality_recipe_in_the_cross_manipulation_benchmark(monkeypatch):
    import importlib
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    bench = importlib.import_module("bench_cross_manipulation")
    seen = lambda recipe: bench.seen_sets({"training": {"recipe": recipe}})  # noqa: E731
    assert "freda" in seen({"method": {"name": "quality"}})
    assert "freda" in seen({"train": {"strategy": "quality"}})  # a checkpoint from before the method section
    assert "freda" not in seen({"method": {"name": "plain"}}) and "freda" not in seen({})


@register_method("reals-only-test", ready_made_fakes=False)
class RealsOnly(Method):
    """A method that can only learn from self-blends (it would ignore ready-made fakes)."""

    def loss(self, model, batch):
        return F.binary_cross_entropy_with_logits(model(batch["image"]), batch["label"])


def test_a_method_that_cannot_use_ready_made_fakes_is_refused_before_training(tmp_path, real_dir):
    files = sorted(real_dir.glob("*.png"))
    rows = [{"path": str(p), "label": 0, "split": "train" if i < 8 else "val"} for i, p in enumerate(files)]
    rows += [{"path": str(files[0]), "label": 1, "split": "train"}]
    manifest = tmp_path / "fold-train.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = recipe(tmp_path, real_dir, {"name": "reals-only-test"})
    cfg = TrainConfig.from_yaml(path, {"data.real_dirs": [], "data.manifest": str(manifest)})
    with pytest.raises(ConfigError, match="cannot train on ready-made fakes.*label-1 rows hold 1"):
        train(cfg)
    assert not (tmp_path / "run" / "model").exists()
