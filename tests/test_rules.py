"""The video rule: faces linked into tracks; a forged face on one of two people decides the video,
a face seen in one frame does not, and a track's gaps are counted."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from fakelens.rules import link_tracks, track_video_score, video_score


@dataclass
class F:
    frame: int
    face: int
    box: tuple | None
    score: float


def _two_people(n=10, fake_score=0.9, real_score=0.1):
    faces = []
    for t in range(n):  # person A walks right, person B stays; face index = size order, which flips
        a = F(t, t % 2, (10 + 3 * t, 10, 60 + 3 * t, 70), real_score)
        b = F(t, 1 - t % 2, (300, 20, 350, 80), fake_score)
        faces += [a, b]
    return faces


def test_tracks_follow_boxes_not_face_indices():
    faces = _two_people()
    ids = link_tracks(faces)
    assert len(set(ids)) == 2
    assert {ids[i] for i in range(0, 20, 2)} == {ids[0]} and {ids[i] for i in range(1, 20, 2)} == {ids[1]}


def test_a_swap_on_one_of_two_people_decides_the_video():
    score, track, ids = track_video_score(_two_people())
    assert score == pytest.approx(0.9) and track == ids[1]
    # the per-frame max rule gives the same here; a plain mean over all faces would not
    assert score > video_score([0.1, 0.9] * 10)


def test_a_face_seen_in_one_frame_does_not_decide():
    faces = [F(t, 0, (100, 100, 160, 170), 0.1) for t in range(12)]
    faces.append(F(5, 1, (400, 10, 430, 40), 0.99))  # a misdetection far away, one frame
    score, track, ids = track_video_score(faces)
    assert score == pytest.approx(0.1) and ids[-1] != track


def test_a_track_survives_short_gaps_and_boxless_faces_link_by_index():
    faces = [F(t, 0, (100 + t, 100, 160 + t, 170), 0.5) for t in (0, 1, 2, 5, 6)]
    assert len(set(link_tracks(faces))) == 1  # missed in frames 3-4: one track
    far = [F(0, 0, (0, 0, 10, 10), 0.5), F(9, 0, (0, 0, 10, 10), 0.5)]
    assert link_tracks(far) == [0, 0]  # positions 0 and 1 of the sampled frames: consecutive
    boxless = [F(t, i, None, 0.5) for t in range(3) for i in range(2)]
    assert link_tracks(boxless) == [0, 1] * 3


def test_with_no_track_long_enough_the_frame_rule_decides_not_the_first_face():
    """Faces jumping between far-apart samples never link: the trimmed mean over frames of the max
    over faces decides, not whichever face came first."""
    faces = [F(t, 0, (100 * t, 0, 100 * t + 40, 40), 0.1 if t == 0 else 0.9) for t in range(10)]
    score, track, _ = track_video_score(faces)
    assert track is None and score == pytest.approx(video_score([0.1] + [0.9] * 9))


def test_a_single_frame_face_cannot_decide_even_in_a_short_video():
    faces = [F(t, 0, (100, 100, 160, 170), 0.1) for t in range(3)] + [F(1, 1, (400, 10, 430, 40), 0.99)]
    score, track, ids = track_video_score(faces)
    assert score == pytest.approx(0.1) and ids[-1] != track
