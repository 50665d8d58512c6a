"""The stage-reading probe network: its pooled features are every stage's global mean."""

from __future__ import annotations

import torch

from fakelens.models.registry import create_model


def test_forward_features_pool_every_stage_exactly():
    torch.manual_seed(0)
    model = create_model("probe-effnet-lite0").eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        pooled = model.forward_head(model.forward_features(x), pre_logits=True)
        b = model.backbone
        h = b.bn1(b.conv_stem(x))
        means = []
        for stage in b.blocks:
            h = stage(h)
            means.append(h.mean(dim=(2, 3)))
        means.append(b.bn2(b.conv_head(h)).mean(dim=(2, 3)))
    assert pooled.shape == (2, model.num_features) == (2, model.head.in_features)
    assert torch.allclose(pooled, torch.cat(means, dim=1), atol=1e-5)


def test_sizes_that_do_not_divide_fall_back_to_adaptive_pooling():
    model = create_model("probe-effnet-lite0").eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 100, 100)).shape == (1,)


def test_without_the_last_layer_only_the_stages_are_read():
    model = create_model("probe-effnet-lite0", last_layer=False).eval()
    with torch.no_grad():
        feats = model.forward_features(torch.randn(1, 3, 224, 224))
    assert feats.shape[1] == model.num_features == model.head.in_features
    assert model.num_features == create_model("probe-effnet-lite0").num_features - 1280
