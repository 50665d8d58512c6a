"""Where a training run's processes come from (issue 14): one local process, the default and the
loop exactly as it always ran (Lightning is not imported), or Lightning Fabric: DDP over devices and
nodes (gloo on CPU, NCCL on GPUs), mixed precision, launched by Fabric itself or by torchrun/SLURM.

Fabric and not the Trainer: the loop keeps its own epochs, resume (``last/``), per-item seeded
randomness and checkpoint selection; Fabric adds process groups, gradient all-reduce and precision
only. Every process walks the same seeded global batch order and takes its slice of each batch, so a
DDP run takes the same optimiser steps as one process on the whole batch (``rank_batches``).
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import asdict, dataclass

import numpy as np
import torch

from fakelens.errors import ConfigError


@dataclass(frozen=True)
class Launch:
    """``fakelens train`` flags: --accelerator, --devices (per node), --num-nodes, --strategy, --precision."""

    accelerator: str = "cpu"
    devices: int = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"

    @property
    def local(self) -> bool:
        return self == Launch()

    def to_dict(self) -> dict:
        return asdict(self)


class LocalRunner:
    """One process on the CPU: the loop as it ran before Fabric."""

    rank, world_size, is_main = 0, 1, True
    device = torch.device("cpu")

    def __init__(self, launch: Launch | None = None):
        self.launch = launch or Launch()

    def setup(self, model, opt):
        """The model and optimiser to step, and the plain module (what checkpoints save)."""
        return model, opt, model

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def autocast(self):
        return contextlib.nullcontext()

    def barrier(self) -> None:
        pass

    def broadcast(self, obj):
        return obj

    def main_first(self):
        return contextlib.nullcontext()

    def mean_over_processes(self, values: list[float]) -> list[float]:
        return values

    def threads(self, requested: int) -> int:
        return requested


class FabricRunner:
    """Lightning Fabric's processes. Rank 0 writes the run folder; the others wait for it."""

    def __init__(self, launch: Launch):
        try:
            from lightning.fabric import Fabric
        except ImportError:
            raise ConfigError(
                "distributed training needs Lightning: pip install 'fakelens[distributed]'"
            ) from None
        self.launch = launch
        try:
            self.fabric = Fabric(
                accelerator=launch.accelerator,
                devices=launch.devices,
                num_nodes=launch.num_nodes,
                strategy=launch.strategy,
                precision=launch.precision,
            )
        except (ValueError, RuntimeError, TypeError) as err:  # Lightning's own reason, one line
            reason = str(err).strip().splitlines()[0]
            raise ConfigError(f"--accelerator/--devices/--strategy/--precision: {reason}") from None
        self.fabric.launch()  # starts the other local processes unless torchrun/SLURM already did

    @property
    def rank(self) -> int:
        return self.fabric.global_rank

    @property
    def world_size(self) -> int:
        return self.fabric.world_size

    @property
    def is_main(self) -> bool:
        return self.fabric.is_global_zero

    @property
    def device(self) -> torch.device:
        return self.fabric.device

    def setup(self, model, opt):
        if self.world_size > 1 and self.device.type == "cuda":  # CPU has no SyncBatchNorm in torch
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model_run, opt_run = self.fabric.setup(model, opt)
        return model_run, opt_run, model_run.module

    def backward(self, loss: torch.Tensor) -> None:
        self.fabric.backward(loss)

    def autocast(self):
        return self.fabric.autocast()

    def barrier(self) -> None:
        self.fabric.barrier()

    def broadcast(self, obj):
        return self.fabric.broadcast(obj, src=0)

    def main_first(self):
        return self.fabric.rank_zero_first(local=False)

    def mean_over_processes(self, values: list[float]) -> list[float]:
        """Every process has as many steps (rank_batches): average them step by step."""
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        return self.fabric.all_reduce(t, reduce_op="mean").tolist()

    def threads(self, requested: int) -> int:
        """CPU processes on one node share its cores."""
        if self.device.type == "cpu":
            return max(1, requested // max(1, self.launch.devices))
        return requested


def make_runner(launch: Launch | None):
    if launch is None or launch.local:
        started = int(os.environ.get("WORLD_SIZE", "1"))
        if started > 1:  # torchrun/SLURM started several processes: one-process runs would collide
            raise ConfigError(
                f"{started} processes were started (WORLD_SIZE), but no launch flags were given: "
                "pass --devices, --num-nodes and --strategy ddp to match"
            )
        return LocalRunner()
    return FabricRunner(launch)


def is_main_process() -> bool:
    """False in the extra processes of a Fabric run (so a command prints its result once)."""
    if "lightning.fabric" not in sys.modules:
        return True
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    return getattr(rank_zero_only, "rank", 0) == 0


def check_method(method_cls, world_size: int, device_type: str = "cpu") -> None:
    """DDP synchronises gradients in the wrapped model's forward, and each process sees only its
    share of the items: a method that calls the model's parts directly or rates every item itself
    (``Method.multi_process = False``; these also draw or read tensors on the CPU) trains in one CPU
    process only, refused rather than trained out of step."""
    if (world_size > 1 or device_type != "cpu") and not method_cls.multi_process:
        raise ConfigError(
            f"method {method_cls.name!r} trains in one CPU process only (it calls the model's parts "
            "or keeps per-item state); drop --devices/--num-nodes/--accelerator"
        )


def check_batch(pairs_per_batch: int, world_size: int) -> None:
    if pairs_per_batch < world_size:
        raise ConfigError(
            f"train.pairs_per_batch {pairs_per_batch} is smaller than the {world_size} processes: "
            "every process needs at least one item of each batch"
        )


def rank_batches(order: list[int], batch_size: int, rank: int, world: int) -> list[tuple[list[int], float]]:
    """This process's slice of every global batch of ``order``, and the factor on its mean loss
    (local size x world / global size) that makes DDP's average of the processes' gradients the
    gradient of the whole batch's mean. With one process: the batches a DataLoader would make, factor
    1. A last batch with fewer items than processes is dropped: a process without items would stall
    the all-reduce."""
    out = []
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        if len(batch) < world:
            continue
        mine = [int(i) for i in np.array_split(np.asarray(batch), world)[rank]]
        out.append((mine, len(mine) * world / len(batch)))
    return out


def epoch_order(n: int, generator: torch.Generator, order: list[int] | None) -> list[int]:
    """The epoch's item order as ``DataLoader(shuffle=True, generator=g)`` draws it (the loader
    first takes one draw for its workers' base seed, then the permutation), or a method's order."""
    torch.empty((), dtype=torch.int64).random_(generator=generator)
    if order is not None:
        return list(order)
    return torch.randperm(n, generator=generator).tolist()
