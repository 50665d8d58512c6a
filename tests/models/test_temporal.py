import pytest
import torch

from fakelens.models.temporal import TemporalHead


def _batch(b=3, t=10, d=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, t, d, generator=g), torch.randn(b, t, generator=g)


def _trained_like(head: TemporalHead, seed: int = 1) -> TemporalHead:
    """Non-zero weights everywhere, as after training (a fresh head's correction is zero)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in head.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return head.eval()


@pytest.mark.parametrize("t", [8, 12, 16])
def test_shapes_and_a_small_head(t):
    head = TemporalHead(1280).eval()
    emb, logits = torch.randn(2, t, 1280), torch.randn(2, t)
    assert head(emb, logits).shape == (2,)
    assert sum(p.numel() for p in head.parameters()) < 500_000


def test_a_fresh_head_is_the_mean_frame_logit():
    head = TemporalHead(24).eval()
    emb, logits = _batch()
    mask = torch.ones(3, 10, dtype=torch.bool)
    mask[1, 6:] = False
    expected = torch.stack([logits[0].mean(), logits[1, :6].mean(), logits[2].mean()])
    assert torch.allclose(head(emb, logits, mask), expected, atol=1e-6)


def test_padded_frames_change_nothing():
    head = _trained_like(TemporalHead(24, width=16))
    emb, logits = _batch(b=1, t=7)
    alone = head(emb, logits)
    junk_emb, junk_logits = _batch(b=1, t=5, seed=3)
    padded = head(
        torch.cat([emb, 50 * junk_emb], 1),
        torch.cat([logits, 50 * junk_logits], 1),
        torch.tensor([[True] * 7 + [False] * 5]),
    )
    assert torch.allclose(alone, padded, atol=1e-5)
    assert not torch.allclose(alone, TemporalHead.mean_logit(logits, torch.ones(1, 7, dtype=torch.bool)))


def test_order_matters_to_a_trained_head():
    head = _trained_like(TemporalHead(24, width=16))
    emb, logits = _batch(b=1, t=9)
    perm = torch.tensor([4, 0, 8, 2, 6, 1, 7, 3, 5])
    assert not torch.allclose(head(emb, logits), head(emb[:, perm], logits[:, perm]))


def test_bad_shapes_and_kernels_are_refused():
    with pytest.raises(ValueError, match="odd"):
        TemporalHead(8, kernel=4)
    with pytest.raises(ValueError, match=r"\(B, T, D\)"):
        TemporalHead(8)(torch.randn(2, 5, 8), torch.randn(2, 4))
