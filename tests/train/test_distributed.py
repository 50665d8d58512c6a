"""Distributed training on Lightning Fabric (issue 14 item 1): two CPU processes (gloo) take the same
steps as one, a cut run resumes, and the batch split is the one-process batch order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch.utils.data import DataLoader

from fakelens.errors import ConfigError
from fakelens.train.config import TrainConfig
from fakelens.train.distributed import Launch, check_method, epoch_order, rank_batches
from fakelens.train.loop import train
from train_helpers import write_config, write_reals

pytest.importorskip("lightning")


@pytest.fixture(scope="module")
def real_dir(tmp_path_factory, astronaut):
    return write_reals(tmp_path_factory.mktemp("reals"), astronaut)


@pytest.mark.parametrize("n", [7, 16, 21])
def test_one_process_batches_are_the_dataloaders_shuffle(n):
    """The loop used to let DataLoader(shuffle=True) draw the order: the explicit order is the same
    draw, so recipes trained before this change train the same steps."""
    loader = DataLoader(range(n), batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(9))
    wanted = [b.tolist() for b in loader]
    got = rank_batches(epoch_order(n, torch.Generator().manual_seed(9), None), 4, 0, 1)
    assert [b for b, _ in got] == wanted and {f for _, f in got} == {1.0}


def test_processes_split_each_global_batch_and_weigh_their_share():
    order = list(range(11))
    shares = [rank_batches(order, 4, rank, 2) for rank in (0, 1)]
    assert [b for b, _ in shares[0]] == [[0, 1], [4, 5], [8, 9]]
    assert [b for b, _ in shares[1]] == [[2, 3], [6, 7], [10]]
    # the last global batch (3 items) is split 2 + 1: weights 2*2/3 and 1*2/3 average to its mean
    assert shares[0][-1][1] == pytest.approx(4 / 3) and shares[1][-1][1] == pytest.approx(2 / 3)
    # a last batch smaller than the number of processes is dropped by every process alike
    assert len(rank_batches(list(range(9)), 4, 2, 3)) == len(rank_batches(list(range(9)), 4, 0, 3)) == 2


def test_methods_that_call_model_parts_or_rate_items_train_in_one_cpu_process_only():
    from fakelens.models.methods import get_method

    check_method(get_method("acmf"), 1)
    check_method(get_method("plain"), 2)
    check_method(get_method("fidelity"), 2, "cuda")
    for name in ("acmf", "lsda", "hierarchical", "quality"):
        with pytest.raises(ConfigError, match=f"{name}.*one CPU process only"):
            check_method(get_method(name), 2)
        with pytest.raises(ConfigError, match=f"{name}.*one CPU process only"):
            check_method(get_method(name), 1, "cuda")


def test_launches_that_would_train_out_of_step_are_refused(monkeypatch):
    from fakelens.train.distributed import check_batch, make_runner

    check_batch(2, 2)
    with pytest.raises(ConfigError, match="pairs_per_batch 1 is smaller than the 2 processes"):
        check_batch(1, 2)
    monkeypatch.setenv("WORLD_SIZE", "4")  # torchrun started 4 processes, the command has no flags
    with pytest.raises(ConfigError, match="4 processes were started"):
        make_runner(None)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_a_launch_lightning_refuses_is_one_line(tmp_path, real_dir):
    cfg = TrainConfig.from_yaml(write_config(tmp_path, real_dir, epochs=1))
    with pytest.raises(ConfigError) as err:
        train(cfg, launch=Launch(accelerator="gpu"))
    assert "\n" not in str(err.value) and "gpu" in str(err.value)


def test_one_fabric_process_with_bf16_autocast_trains(tmp_path, real_dir):
    """Mixed precision through Fabric on CPU (bf16; fp16 autocast is GPU-only, Lightning says so)."""
    cfg = TrainConfig.from_yaml(write_config(tmp_path, real_dir, epochs=1))
    folder = train(cfg, launch=Launch(precision="bf16-mixed"))
    meta = json.loads((folder / "config.json").read_text())
    assert meta["training"]["launch"] == {**Launch(precision="bf16-mixed").to_dict(), "processes": 1}
    weights = load_file(str(folder / "weights.safetensors")).values()
    assert {v.dtype for v in weights if v.is_floating_point()} == {torch.float32}  # autocast only


def _fakelens_cli() -> list[str]:
    exe = Path(sys.executable).with_name("fakelens")
    return [sys.executable, str(exe)]


def _ddp(recipe: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [*_fakelens_cli(), "train", str(recipe), "--devices", "2", "--strategy", "ddp", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


def test_two_cpu_processes_train_like_one_and_a_cut_run_resumes(tmp_path, real_dir):
    """GroupNorm (batch-independent) so that the only difference left is the all-reduce's float
    order; batches of 3 items split 2 + 1 (the loss weights matter); the DDP run is cut after its
    first epoch by the time budget and resumed."""
    model = {"model.kwargs": {"norm": "group"}}
    one = write_config(tmp_path / "one", real_dir, epochs=2, pairs_per_batch=3)
    train(TrainConfig.from_yaml(one, model))

    two = write_config(tmp_path / "two", real_dir, epochs=2, pairs_per_batch=3, max_minutes=1e-6)
    sets = ["--set", "model.kwargs={norm: group}"]
    cut = _ddp(two, *sets)
    assert cut.returncode == 0, cut.stderr[-3000:]
    assert cut.stdout.count("checkpoint:") == 1  # printed by the main process only
    run = tmp_path / "two" / "run"
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1
    resumed = _ddp(two, *sets, "--set", "train.max_minutes=null", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    a = load_file(str(tmp_path / "one" / "run" / "last" / "weights.safetensors"))
    b = load_file(str(run / "last" / "weights.safetensors"))
    assert a.keys() == b.keys()
    for k in a:  # float-order noise only: ~1e-8 on average; Adam can turn it into at most a step
        diff = np.abs(a[k].numpy().astype(np.float64) - b[k].numpy())  # on a weight whose gradient is ~0
        assert diff.mean() < 1e-6 and diff.max() < 0.003, (k, diff.mean(), diff.max())  # lr 0.003
    hist = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    ref = [json.loads(line) for line in (tmp_path / "one" / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in hist] == [1, 2]
    assert [h["train_loss"] for h in hist] == pytest.approx([h["train_loss"] for h in ref], rel=1e-4)
    meta = json.loads((run / "model" / "config.json").read_text())
    assert meta["training"]["launch"]["processes"] == 2 and meta["training"]["launch"]["strategy"] == "ddp"
