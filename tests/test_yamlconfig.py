"""``base:`` inheritance of YAML configs (fakelens.yamlconfig) and the shipped recipes built on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fakelens.errors import ConfigError
from fakelens.evaluate.protocols import ProtocolConfig
from fakelens.train.config import TrainConfig
from fakelens.train.ensemble import EnsembleConfig
from fakelens.yamlconfig import merge, read_config_yaml

REPO = Path(__file__).resolve().parents[1]
PATHS = ("out_dir", "data.real_dirs", "data.cache_dir")


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_merge_nested_child_wins_lists_replace_null_is_a_value():
    base = {"a": 1, "d": {"x": 1, "y": [1, 2], "z": {"deep": 1, "keep": 2}}, "n": 5}
    child = {"d": {"y": [3], "z": {"deep": 9}}, "n": None, "new": True}
    assert merge(base, child) == {
        "a": 1,
        "d": {"x": 1, "y": [3], "z": {"deep": 9, "keep": 2}},
        "n": None,
        "new": True,
    }
    assert base["d"]["z"] == {"deep": 1, "keep": 2}  # inputs untouched


def test_base_chain_and_list_in_order(tmp_path):
    _write(tmp_path / "b/root.yaml", "data: {val_fraction: 0.1, test_fraction: 0.2}\ntrain: {seed: 1}\n")
    _write(tmp_path / "b/one.yaml", "base: root.yaml\ntrain: {seed: 2, lr: 0.1}\n")
    _write(tmp_path / "b/two.yaml", "train: {seed: 3}\ndata: {test_fraction: 0.3}\n")
    child = _write(tmp_path / "c/child.yaml", "base: [../b/one.yaml, ../b/two.yaml]\ntrain: {lr: 0.5}\n")
    raw = read_config_yaml(child)
    assert raw == {"data": {"val_fraction": 0.1, "test_fraction": 0.3}, "train": {"seed": 3, "lr": 0.5}}


def test_paths_resolve_against_the_file_that_wrote_them(tmp_path):
    _write(tmp_path / "configs/base/data.yaml", "data: {real_dirs: [../../faces], cache_dir: ../cache}\n")
    child = _write(
        tmp_path / "configs/models/deep/r.yaml",
        "base: ../../base/data.yaml\nout_dir: ../runs/x\ndata: {val_fraction: 0.1}\n",
    )
    raw = read_config_yaml(child, PATHS)
    assert raw["data"]["real_dirs"] == [str((tmp_path / "faces").resolve())]
    assert raw["data"]["cache_dir"] == str((tmp_path / "configs/cache").resolve())
    assert raw["out_dir"] == str((tmp_path / "configs/models/runs/x").resolve())
    assert "base" not in raw


def test_train_config_from_a_base_writes_merged_absolute_config(tmp_path):
    (tmp_path / "faces").mkdir()
    _write(
        tmp_path / "configs/base/b.yaml", "data: {real_dirs: [../../faces]}\ntrain: {epochs: 2, lr: 0.01}\n"
    )
    recipe = _write(tmp_path / "configs/models/r.yaml", "base: ../base/b.yaml\ntrain: {epochs: 3}\n")
    cfg = TrainConfig.from_yaml(recipe)
    assert cfg.data.real_dirs == [(tmp_path / "faces").resolve()]
    assert (cfg.train.epochs, cfg.train.lr) == (3, 0.01)
    assert cfg.data.cache_dir == (tmp_path / "configs/models/.cache/fakelens").resolve()  # default: beside it
    written = yaml.safe_load(cfg.to_yaml())
    assert "base" not in written and Path(written["data"]["real_dirs"][0]).is_absolute()
    # an override of a path key is relative to the recipe, --out (out_dir) to the caller
    cfg = TrainConfig.from_yaml(recipe, {"data.real_dirs": ["../../faces"], "out_dir": "runs/here"})
    assert cfg.data.real_dirs == [(tmp_path / "faces").resolve()] and cfg.out_dir == Path("runs/here")


def test_protocol_manifest_alias_from_a_base(tmp_path):
    _write(tmp_path / "base/p.yaml", "manifest: ../data/m.jsonl\ntrain_datasets: [a]\n")
    cfg_path = _write(tmp_path / "p/x.yaml", "base: ../base/p.yaml\nname: x\nkind: within_dataset\n")
    cfg = ProtocolConfig.from_yaml(cfg_path)
    assert cfg.manifests == [(tmp_path / "data/m.jsonl").resolve()]
    written = yaml.safe_load(cfg.to_yaml())  # what protocol.yaml holds: merged, resolved
    assert "base" not in written and written["train_datasets"] == ["a"]
    assert written["manifests"] == [str((tmp_path / "data/m.jsonl").resolve())]
    both = _write(
        tmp_path / "p/both.yaml", "manifest: a.jsonl\nmanifests: [b.jsonl]\nname: y\nkind: custom\n"
    )
    with pytest.raises(ConfigError, match="both.yaml.*manifests or manifest"):
        ProtocolConfig.from_yaml(both)


def test_cycle_is_one_line_naming_the_files(tmp_path):
    _write(tmp_path / "a.yaml", "base: b.yaml\nx: 1\n")
    _write(tmp_path / "b.yaml", "base: a.yaml\ny: 1\n")
    with pytest.raises(ConfigError) as err:
        read_config_yaml(tmp_path / "a.yaml")
    msg = str(err.value)
    assert "\n" not in msg and "cycle" in msg and "a.yaml" in msg and "b.yaml" in msg
    _write(tmp_path / "self.yaml", "base: self.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        read_config_yaml(tmp_path / "self.yaml")


def test_missing_or_bad_base_names_the_asking_file(tmp_path):
    asker = _write(tmp_path / "sub/asker.yaml", "base: ../nowhere.yaml\n")
    with pytest.raises(ConfigError, match=r"asker\.yaml': base: no such file '\.\./nowhere\.yaml'"):
        read_config_yaml(asker)
    _write(tmp_path / "bad.yaml", "base: {a: 1}\n")
    with pytest.raises(ConfigError, match="bad.yaml.*base: expected a file name"):
        read_config_yaml(tmp_path / "bad.yaml")
    _write(tmp_path / "list.yaml", "- 1\n")
    _write(tmp_path / "uses-list.yaml", "base: list.yaml\n")
    with pytest.raises(ConfigError, match="list.yaml': the top level must be a mapping"):
        read_config_yaml(tmp_path / "uses-list.yaml")


def _same(expected, got, key: str) -> bool:
    """Paths in the fixture are relative to the repository; loaded ones are absolute."""
    if key in {"out_dir", "real_dirs", "fake_dirs", "manifest", "val_manifest", "cache_dir", "manifests"}:
        if isinstance(expected, list):
            return len(expected) == len(got) and all(
                _same(e, g, key) for e, g in zip(expected, got, strict=True)
            )
        return expected is None if got is None else (REPO / expected).resolve() == Path(got).resolve()
    if key == "members":
        return [e if "/" not in e else str((REPO / e).resolve()) for e in expected] == got
    return expected == got


def _compare(expected: dict, got: dict, where: str) -> list[str]:
    diffs = []
    for key, value in expected.items():
        if isinstance(value, dict):
            diffs += _compare(value, got[key], f"{where}.{key}")
        elif not _same(value, got[key], key):
            diffs.append(f"{where}.{key}: {value!r} != {got[key]!r}")
    return diffs


def test_shipped_recipes_resolve_as_before_bases():
    """Each recipe under configs/ gives the config it gave before it was rewritten onto configs/base/
    (tests/resolved_configs.json, captured from the repeated recipes; method keys left out)."""
    expected = json.loads((REPO / "tests/resolved_configs.json").read_text())
    shipped = sorted(
        str(p.relative_to(REPO)) for p in (REPO / "configs").rglob("*.yaml") if "base" not in p.parts
    )
    assert shipped == sorted(expected)
    diffs = []
    for name, want in expected.items():
        path = REPO / name
        if path.parent.name == "protocols":
            cfg = ProtocolConfig.from_yaml(path)
        elif path.name.startswith("ensemble-"):
            cfg = EnsembleConfig.from_yaml(path)
        else:
            cfg = TrainConfig.from_yaml(path)
        diffs += _compare(want, cfg.model_dump(mode="json"), name)
    assert not diffs, "\n".join(diffs)
