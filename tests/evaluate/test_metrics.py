"""Metrics on tiny examples whose answers can be checked by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from fakelens.evaluate import (
    accuracy,
    aggregate_by_video,
    average_precision,
    binary_metrics,
    equal_error_rate,
    evaluation_report,
    rates_at_threshold,
    roc_auc,
)

Y = [0, 0, 1, 1]
PERFECT = [0.1, 0.2, 0.8, 0.9]
REVERSED = [0.8, 0.9, 0.1, 0.2]
# The sklearn docs example: of the 4 (real, fake) pairs, 3 are ordered correctly -> AUC 3/4.
SKLEARN_EXAMPLE = [0.1, 0.4, 0.35, 0.8]


def test_perfect_separation():
    assert roc_auc(Y, PERFECT) == 1.0
    assert average_precision(Y, PERFECT) == 1.0
    eer, thr = equal_error_rate(Y, PERFECT)
    assert eer == 0.0
    assert max(PERFECT[:2]) < thr <= min(PERFECT[2:])  # threshold separates the classes
    assert accuracy(Y, PERFECT, threshold=thr) == 1.0


def test_reversed_scores():
    assert roc_auc(Y, REVERSED) == 0.0
    assert equal_error_rate(Y, REVERSED)[0] == 1.0
    assert accuracy(Y, REVERSED) == 0.0


def test_hand_computed_case():
    assert roc_auc(Y, SKLEARN_EXAMPLE) == pytest.approx(0.75)
    # Ranked: 0.8 (fake, P=1), 0.4 (real), 0.35 (fake, P=2/3) -> AP = (1 + 2/3) / 2.
    assert average_precision(Y, SKLEARN_EXAMPLE) == pytest.approx(5 / 6)
    # At threshold 0.4: one of two reals called fake, one of two fakes missed -> 0.5 / 0.5.
    assert equal_error_rate(Y, SKLEARN_EXAMPLE) == pytest.approx((0.5, 0.4))
    # >= 0.5: real 0.1, 0.4 right; fake 0.35 missed; fake 0.8 caught.
    assert accuracy(Y, SKLEARN_EXAMPLE) == 0.75
    assert accuracy(Y, SKLEARN_EXAMPLE, threshold=0.3) == 0.75


def test_eer_interpolates_inside_a_segment():
    # Reals 0.1, 0.3, 0.5; fakes 0.4, 0.6. Between thresholds 0.5 and 0.4 FPR stays 1/3
    # while FNR falls 1/2 -> 0, so the rates meet at 1/3, one third of the way from 0.5 to 0.4.
    y = [0, 0, 0, 1, 1]
    s = [0.1, 0.3, 0.5, 0.4, 0.6]
    eer, thr = equal_error_rate(y, s)
    assert eer == pytest.approx(1 / 3)
    assert thr == pytest.approx(0.5 - 0.1 / 3)


def test_tied_scores_give_chance():
    assert roc_auc([0, 1], [0.5, 0.5]) == 0.5
    assert equal_error_rate([0, 1], [0.5, 0.5]) == pytest.approx((0.5, 0.5))


@pytest.mark.parametrize("y", [[0, 0, 0], [1, 1, 1]])
def test_one_class_is_nan_not_an_exception(y):
    s = [0.2, 0.5, 0.9]
    assert math.isnan(roc_auc(y, s))
    eer, thr = equal_error_rate(y, s)
    assert math.isnan(eer) and math.isnan(thr)
    assert not math.isnan(accuracy(y, s))


def test_average_precision_nan_without_fakes():
    assert math.isnan(average_precision([0, 0], [0.1, 0.9]))
    assert average_precision([1, 1], [0.1, 0.9]) == 1.0


def test_bad_input_rejected():
    with pytest.raises(ValueError, match="3 values"):
        roc_auc([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="0 \\(real\\) or 1"):
        roc_auc([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="NaN"):
        roc_auc([0, 1], [0.1, float("nan")])


def test_rates_at_threshold_count_flagged_reals_and_fakes():
    y, s = [0, 0, 0, 0, 1, 1], [0.1, 0.5, 0.7, 0.2, 0.5, 0.3]
    fpr, tpr = rates_at_threshold(y, s, threshold=0.5)
    assert (fpr, tpr) == (0.5, 0.5)  # score == threshold counts as flagged, as the verdict does
    m = binary_metrics(y, s, threshold=0.5)
    assert (m["fpr"], m["tpr"]) == (0.5, 0.5)


def test_binary_metrics_json_ready_and_none_for_nan():
    m = binary_metrics([1, 1, 1], [0.2, 0.6, 0.9])
    assert set(m) == {
        "n",
        "n_real",
        "n_fake",
        "auc",
        "ap",
        "eer",
        "eer_threshold",
        "acc",
        "fpr",
        "tpr",
        "threshold",
    }
    assert (m["n"], m["n_real"], m["n_fake"]) == (3, 0, 3)
    assert m["auc"] is None and m["eer"] is None and m["eer_threshold"] is None
    assert m["acc"] == pytest.approx(2 / 3)
    assert m["fpr"] is None and m["tpr"] == pytest.approx(2 / 3)  # no reals: no false-alarm rate
    assert type(m["n"]) is int and type(m["acc"]) is float
    json.loads(json.dumps(m, allow_nan=False))  # strict JSON


def test_binary_metrics_values():
    m = binary_metrics(Y, SKLEARN_EXAMPLE, threshold=0.3)
    assert m["auc"] == pytest.approx(0.75)
    assert m["eer"] == pytest.approx(0.5)
    assert m["threshold"] == 0.3
    assert all(type(v) in (int, float) for v in m.values())


def test_aggregate_three_videos():
    ids = ["v1", "v2", "v1", "v3", "v2", "v3", "v3"]
    y = [0, 1, 0, 1, 1, 1, 1]
    s = [0.1, 0.6, 0.3, 0.2, 0.8, 0.9, 0.4]
    vids, vy, vs = aggregate_by_video(ids, y, s)
    assert vids == ["v1", "v2", "v3"]  # first-appearance order
    assert vy.tolist() == [0, 1, 1]
    assert vs == pytest.approx([0.2, 0.7, 0.5])
    _, _, med = aggregate_by_video(ids, y, s, how="median")
    assert med == pytest.approx([0.2, 0.7, 0.4])


def test_mixed_label_video_raises_naming_it():
    with pytest.raises(ValueError, match="'clip_007'"):
        aggregate_by_video(["ok", "clip_007", "clip_007"], [0, 0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="how"):
        aggregate_by_video(["a"], [0], [0.1], how="max")


def test_evaluation_report_keeps_levels_apart():
    ids = np.array(["a", "a", "b", "b", "c", "c"])
    y = [0, 0, 1, 1, 1, 1]
    s = [0.25, 0.75, 0.5, 0.625, 0.9, 0.9]  # video means: a 0.5 (real), b 0.5625, c 0.9
    rep = evaluation_report(y, s, video_ids=ids)
    assert set(rep) == {"frame_level", "video_level"}
    assert rep["frame_level"]["n"] == 6 and rep["video_level"]["n"] == 3
    # Frames: real 0.75 outranks fakes 0.5 and 0.625 -> 6 of 8 pairs right; videos separate fully.
    assert rep["frame_level"]["auc"] == pytest.approx(6 / 8)
    assert rep["video_level"]["auc"] == 1.0
    assert rep["frame_level"]["acc"] == pytest.approx(5 / 6)  # only real 0.75 is called fake
    assert rep["video_level"]["acc"] == pytest.approx(2 / 3)  # real video mean 0.5 >= 0.5
    assert evaluation_report(y, s)["video_level"] is None
