"""Incremental detection's parts (models/incremental.py): SUR's exemplar choice, the isolation loss,
the grid-shuffle probe, per-task heads and which head each image trains."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fakelens.models.efficientnet import tiny_cnn
from fakelens.models.incremental import (
    Incremental,
    IncrementalOptions,
    Previous,
    ReplayBank,
    grid_shuffle,
    sparse_uniform_replay,
    supcon_loss,
)


def test_sur_keeps_the_most_robust_face_of_every_chunk_and_the_one_least_like_it():
    rng = np.random.default_rng(0)
    n = 200
    along = np.linspace(0.5, 3.0, n)  # dot products with the centroid spread over one range
    feats = np.stack([along, rng.normal(0, 0.3, n), rng.normal(0, 0.3, n)], axis=1)
    robust = rng.random(n)
    chosen = sparse_uniform_replay(feats, robust, budget=8)
    assert len(chosen) == 8 and len(set(chosen)) == 8
    score = feats @ feats.mean(axis=0)
    edges = np.linspace(score.min(), score.max(), 5)
    chunk = np.clip(np.searchsorted(edges, score, side="right") - 1, 0, 3)
    for c in range(4):  # the whole range is covered, not only the densest part
        members = np.flatnonzero(chunk == c)
        assert int(members[np.argmax(robust[members])]) in chosen
    assert sparse_uniform_replay(feats[:5], robust[:5], budget=8) == [0, 1, 2, 3, 4]


def test_isolation_loss_is_lower_when_each_class_is_its_own_cluster():
    rng = np.random.default_rng(1)
    centers = torch.tensor(rng.normal(size=(4, 16)), dtype=torch.float32)
    classes = torch.arange(4).repeat_interleave(6)
    clustered = centers[classes] + 0.05 * torch.randn(24, 16)
    mixed = torch.randn(24, 16)
    assert supcon_loss(clustered, classes) < supcon_loss(mixed, classes)
    assert supcon_loss(mixed, torch.arange(24)).item() == 0.0  # nobody shares a class: no pull


def test_grid_shuffle_moves_quadrants_and_keeps_pixels():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    y = grid_shuffle(x, torch.Generator().manual_seed(0))
    assert not torch.equal(x, y)
    assert torch.equal(x.flatten(1).sort(dim=1).values, y.flatten(1).sort(dim=1).values)


def test_one_head_outputs_as_before_and_many_heads_take_their_maximum():
    torch.manual_seed(0)
    one, three = tiny_cnn(), tiny_cnn(heads=3)
    x = torch.randn(5, 3, 32, 32)
    one.eval(), three.eval()
    pooled = one.forward_head(one.forward_features(x), pre_logits=True)
    want = (pooled @ one.head.weight.T + one.head.bias).squeeze(1)
    assert torch.allclose(one(x), want, atol=1e-6)
    per_head = three.forward_heads(three.forward_head(three.forward_features(x), pre_logits=True))
    assert per_head.shape == (5, 3) and torch.allclose(three(x), per_head.amax(dim=1))
    with pytest.raises(ValueError, match="heads"):
        tiny_cnn(heads=0)


def _head_grads(method, model, batch):
    model.zero_grad()
    method.loss(model, batch).backward()
    return model.head.weight.grad.abs().sum(dim=1)


def test_a_fake_trains_its_own_tasks_head_and_a_real_trains_every_head():
    torch.manual_seed(0)
    model = tiny_cnn(heads=2)
    opts = IncrementalOptions(isolation_weight=0, kd_weight=0, fd_weight=0)
    method = Incremental(opts)
    method.attach_previous(Previous(folder=None, tasks=["blend"], teacher=None))  # task 2: head 1
    x = torch.randn(1, 3, 32, 32)
    fake = {"image": x, "label": torch.ones(1)}
    grads = _head_grads(method, model, fake)
    assert grads[0] == 0 and grads[1] > 0
    real = {"image": x, "label": torch.zeros(1)}
    assert (_head_grads(method, model, real) > 0).all()
    # a replayed fake of task 1 trains head 0, beside the current real
    bank = ReplayBank(torch.randn(1, 3, 32, 32), torch.ones(1), torch.zeros(1, dtype=torch.int64))
    method.previous.bank = bank
    method.opts = IncrementalOptions(replay_per_batch=1, isolation_weight=0, kd_weight=0, fd_weight=0)
    model.zero_grad()
    method.loss(model, fake).backward()
    assert (model.head.weight.grad.abs().sum(dim=1) > 0).all()


def test_distillation_is_zero_while_the_student_is_still_the_teacher():
    torch.manual_seed(0)
    teacher = tiny_cnn(heads=1).eval()
    student = tiny_cnn(heads=2).eval()
    state = teacher.state_dict()
    state["head.weight"] = torch.cat([state["head.weight"]] * 2)
    state["head.bias"] = torch.cat([state["head.bias"]] * 2)
    student.load_state_dict(state)
    batch = {"image": torch.randn(4, 3, 32, 32), "label": torch.tensor([0.0, 1.0, 0.0, 1.0])}
    plain = Incremental(IncrementalOptions(isolation_weight=0, kd_weight=0, fd_weight=0))
    plain.attach_previous(Previous(folder=None, tasks=["blend"], teacher=None))
    fd = Incremental(IncrementalOptions(isolation_weight=0, kd_weight=1, fd_weight=10))
    fd.attach_previous(Previous(folder=None, tasks=["blend"], teacher=teacher))
    assert fd.loss(student, batch).item() == pytest.approx(plain.loss(student, batch).item(), abs=1e-6)
    # once the student drifts, both distillation terms count, and a step against them brings it back
    with torch.no_grad():
        student.head.weight[0] += 0.5
        student.backbone.body[0].weight.mul_(1.3)
    kd = Incremental(IncrementalOptions(isolation_weight=0, kd_weight=1, fd_weight=0))
    kd.attach_previous(Previous(folder=None, tasks=["blend"], teacher=teacher))
    feat = Incremental(IncrementalOptions(isolation_weight=0, kd_weight=0, fd_weight=10))
    feat.attach_previous(Previous(folder=None, tasks=["blend"], teacher=teacher))
    base = plain.loss(student, batch).item()
    for method in (kd, feat):
        gap = method.loss(student, batch) - plain.loss(student, batch)
        assert gap.item() > 1e-4
        params = list(student.parameters())
        grads = [
            g if g is not None else torch.zeros_like(p)
            for p, g in zip(params, torch.autograd.grad(gap, params, allow_unused=True), strict=True)
        ]
        norm = torch.sqrt(sum((g**2).sum() for g in grads))
        with torch.no_grad():
            saved = [p.clone() for p in params]
            for p, g in zip(params, grads, strict=True):
                p.sub_(1e-3 * g / norm)  # a small step down the distillation terms' gradient
            assert (method.loss(student, batch) - plain.loss(student, batch)).item() < gap.item()
            for p, old in zip(params, saved, strict=True):
                p.copy_(old)
    assert plain.loss(student, batch).item() == pytest.approx(base)


def test_replay_draws_follow_the_step_and_resume_exactly():
    bank = ReplayBank(torch.randn(20, 3, 8, 8), torch.ones(20), torch.zeros(20, dtype=torch.int64))
    method = Incremental(IncrementalOptions(replay_per_batch=6), seed=3)
    method.attach_previous(Previous(folder=None, tasks=["blend"], teacher=None, bank=bank))
    method.step = 7
    first = method._replay("cpu")[0]
    again = Incremental(method.opts, seed=3)
    again.attach_previous(method.previous)
    again.load_state_dict(method.state_dict())
    assert torch.equal(again._replay("cpu")[0], first)
    again.step = 8
    assert not torch.equal(again._replay("cpu")[0], first)
