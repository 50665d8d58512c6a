"""``scan --engine ray``: the local scanner's records from a pool of Ray workers, in resumable shards."""

from __future__ import annotations

import json
import os
import shutil

import cv2
import numpy as np
import pytest

from fakelens.errors import FakelensError
from fakelens.scan import scan_paths
from fakelens.scan.corpus import done_in_shards, expand_inputs, scan_corpus

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, astronaut, demo_dir):
    """A few hundred files: re-framed, resized JPEG copies of the demo portrait, a clip, a file
    that cannot be read and a faceless picture."""
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    h, w = astronaut.shape[:2]
    for i in range(240):
        x0, y0 = (int(v) for v in rng.integers(0, 60, 2))
        crop = astronaut[y0 : y0 + h - 60, x0 : x0 + w - 60]
        size = int(rng.integers(120, 200))
        small = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
        folder = root / f"part{i // 100}"  # nested folders, searched recursively
        folder.mkdir(exist_ok=True)
        cv2.imwrite(str(folder / f"p{i:03d}.jpg"), small[..., ::-1])
    shutil.copy(demo_dir / "astronaut-pan.mp4", root / "clip.mp4")
    shutil.copy(root / "part0" / "p000.jpg", root / os.fsdecode(b"caf\xe9.jpg"))  # not UTF-8
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(100))
    cv2.imwrite(str(root / "wall.jpg"), np.full((120, 160, 3), 90, np.uint8))
    return root


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory, make_tiny_checkpoint):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "model")


def _file_records(lines):
    """file -> (file record, its face records), ``seconds`` left out (it is timing)."""
    out: dict[str, list] = {}
    faces: list[dict] = []
    for rec in lines:
        if rec["type"] == "face":
            faces.append(rec)
        else:
            rec = {k: v for k, v in rec.items() if k != "seconds"}
            out[rec["file"]] = [rec, faces]
            faces = []
    return out


def _shard_lines(out_dir):
    return [
        json.loads(line)
        for shard in sorted(out_dir.glob("part-*.jsonl"))
        for line in shard.read_text().splitlines()
    ]


def test_ray_workers_write_the_local_scanner_s_records(tmp_path, corpus, tiny_ckpt, local_ray):
    from fakelens.models.loading import load_detector

    local = tmp_path / "local.jsonl"
    empty = tmp_path / "empty"  # a given folder without media: an error record from both engines
    empty.mkdir()
    scan_paths([corpus, empty], local, model=load_detector(tiny_ckpt, backend="torch"), progress=False)
    summary = scan_corpus(
        [corpus, empty],
        tmp_path / "ray",
        model=tiny_ckpt,
        backend="torch",
        workers=2,
        rows_per_shard=100,
        progress=False,
    )
    assert summary.files == 245 and summary.errors == 2 and len(summary.shards) == 3
    assert any("broken.jpg" in m for m in summary.error_messages)
    expected = _file_records(json.loads(line) for line in local.read_text().splitlines())
    got = _file_records(_shard_lines(tmp_path / "ray"))
    assert got.keys() == expected.keys()
    for name, (record, faces) in expected.items():
        assert got[name][0] == record, name
        assert sorted(got[name][1], key=lambda f: (f["frame"], f["face"])) == faces, name


def test_a_killed_run_resumes_by_file_and_parquet_shards_hold_the_same_records(
    tmp_path, corpus, tiny_ckpt, local_ray
):
    files = sorted(corpus.rglob("p*.jpg"))[:30]
    listing = tmp_path / "inputs.txt"
    listing.write_text("# the corpus\n" + "\n".join(str(f) for f in files) + "\n\n")
    assert expand_inputs([listing]) == files
    out = tmp_path / "shards"
    first = scan_corpus([listing], out, model=tiny_ckpt, backend="torch", rows_per_shard=10, progress=False)
    assert first.files == 30 and len(first.shards) == 3
    by_file = _file_records(_shard_lines(out))
    # a run killed mid-way: its last shard torn, one shard lost
    shards = sorted(out.glob("part-*.jsonl"))
    shards[-1].unlink()
    text = shards[0].read_text()
    shards[0].write_text(text[: len(text) - 40])
    assert len(done_in_shards(out)) == 19
    with pytest.raises(FakelensError, match="--resume"):
        scan_corpus([listing], out, model=tiny_ckpt, backend="torch", progress=False)
    again = scan_corpus([listing], out, model=tiny_ckpt, backend="torch", resume=True, progress=False)
    assert again.files == 11 and again.skipped_done == 19
    assert _file_records(_shard_lines(out)) == by_file  # repaired: no torn line, no orphan face records
    pq_out = tmp_path / "parquet"
    scan_corpus(
        [listing], pq_out, model=tiny_ckpt, backend="torch", fmt="parquet", rows_per_shard=25, progress=False
    )
    import pyarrow.parquet as pq

    rows = [r for shard in sorted(pq_out.glob("part-*.parquet")) for r in pq.read_table(shard).to_pylist()]
    assert len(rows) == 30 and len(list(pq_out.glob("part-*.parquet"))) == 2
    for row in rows:
        faces = [json.loads(line) for line in row.pop("face_records").splitlines()]
        row.pop("file_bytes")
        row.pop("seconds")
        assert by_file[row["file"]][0] == row and by_file[row["file"]][1] == faces
    assert len(done_in_shards(pq_out)) == 30
    assert pq.read_table(pq_out).num_rows == 30  # one schema: the shards read as one table


def test_bad_corpus_options_are_one_line_errors(tmp_path, corpus, tiny_ckpt, monkeypatch):
    target = tmp_path / "results.jsonl"
    target.write_text("")
    with pytest.raises(FakelensError, match="folder of shards"):
        scan_corpus([corpus], target, model=tiny_ckpt)
    with pytest.raises(FakelensError, match="format"):
        scan_corpus([corpus], tmp_path / "x", fmt="csv")
    unreadable = tmp_path / "list.txt"
    unreadable.mkdir()  # a folder named like a list is a folder, searched as one
    assert expand_inputs([unreadable]) == [unreadable]
    monkeypatch.setitem(__import__("sys").modules, "ray", None)
    with pytest.raises(FakelensError, match=r"pip install 'fakelens\[ray\]'"):
        scan_corpus([corpus], tmp_path / "z")


def test_gpu_workers_are_refused_when_the_cluster_has_no_gpu(tmp_path, corpus, tiny_ckpt, local_ray):
    with pytest.raises(FakelensError, match="GPU"):
        scan_corpus([corpus / "wall.jpg"], tmp_path / "g", model=tiny_ckpt, gpus_per_worker=1, progress=False)


def test_scan_cli_with_the_ray_engine(tmp_path, corpus, tiny_ckpt, local_ray, monkeypatch):
    from typer.testing import CliRunner

    from fakelens.cli import app

    monkeypatch.chdir(corpus)  # relative names: the workers open the driver's files
    files = ["part0/p000.jpg", "part0/p001.jpg", "part1/p100.jpg", "part2/p200.jpg", "broken.jpg"]
    out = tmp_path / "cli-shards"
    args = ["scan", *files, "--engine", "ray", "--out", str(out), "--model", str(tiny_ckpt), "-q"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output  # one file could not be read: exit 1, as locally
    assert "broken.jpg" in result.output
    assert len(done_in_shards(out)) == 5
    assert {r["file"] for r in _shard_lines(out) if r["type"] == "file"} == set(files)
    result = CliRunner().invoke(app, [*args, "--report", str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "--report" in result.output


def test_resume_leaves_files_it_did_not_write_alone(tmp_path, corpus, tiny_ckpt, local_ray):
    out = tmp_path / "shared-folder"
    out.mkdir()
    foreign = out / "part-00000.jsonl"  # another tool's shard name (Spark, datasets)
    foreign.write_text('{"id": 1}\n{"id": 2}\n')
    from fakelens.scan.corpus import shards

    assert shards(out, "jsonl") == [] and done_in_shards(out) == set()
    with pytest.raises(FakelensError, match="no-such-model"):  # one line, before any worker starts
        scan_corpus([corpus], out, model=tmp_path / "no-such-model", resume=True)
    summary = scan_corpus(
        [corpus / "wall.jpg"], out, model=tiny_ckpt, backend="torch", resume=True, progress=False
    )
    assert summary.files == 1 and foreign.read_text() == '{"id": 1}\n{"id": 2}\n'  # not "repaired" away
