"""Notebook display: every container renders self-contained HTML whose embedded images decode."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
from PIL import Image

from blur4d import Cameras, ConsistencyReport, FaceTracks, Generation, Intervals, PointCloud, Scene, Tracks, Video
from blur4d.display import contact_sheet, render_points


def _decode_images(html: str) -> list[np.ndarray]:
    imgs = []
    for b64 in re.findall(r'data:image/png;base64,([A-Za-z0-9+/=]+)', html):
        imgs.append(np.asarray(Image.open(io.BytesIO(base64.b64decode(b64)))))
    return imgs


def _video(rng, F=5):
    frames = rng.integers(0, 255, (F, 48, 64, 3), dtype=np.uint8)
    return Video(frames, Intervals.past_present_future(F))


def test_video_and_generation_html(rng):
    v = _video(rng)
    h = v._repr_html_()
    imgs = _decode_images(h)
    assert len(imgs) == 1 and imgs[0].ndim == 3
    assert "data:video/mp4;base64," in h  # inline player
    assert "span -1…+1" in h  # the intervals (past/present/future) are stated
    g = Generation(samples=(v, v), ambiguity=rng.random((48, 64)).astype(np.float32), choices=({"a": 1}, {"a": 2}))
    gi = _decode_images(g._repr_html_())
    assert len(gi) == 3


def test_contact_sheet_layout():
    frames = np.zeros((10, 30, 40, 3), np.uint8)
    sheet = contact_sheet(frames, labels=[str(i) for i in range(10)], cols=4, long_side=40)
    assert sheet.shape == (3 * (30 + 16 + 4), 4 * (40 + 4), 3)


def test_tracks_cameras_points_html(rng):
    T, N = 4, 6
    xy = (rng.random((T, N, 2)) * [63, 47]).astype(np.float32)
    tr = Tracks(xy=xy, visible=np.ones((T, N), bool), query_frame=np.zeros(N, np.int32), query_xy=xy[0],
                image_size=(64, 48))
    h = tr._repr_html_()
    assert h.count("<polyline") == N and "<svg" in h
    K = np.tile(np.diag([50.0, 50.0, 1.0]), (T, 1, 1))
    P = np.tile(np.eye(4), (T, 1, 1))
    P[:, 0, 3] = -np.arange(T) * 0.1
    cams = Cameras(K, P, (64, 48))
    ch = cams._repr_html_()
    assert ch.count("<svg") == 2 and "registered" in ch
    n = 500
    pc = PointCloud(xyz=rng.normal(size=(n, 3)).astype(np.float32), rgb=rng.integers(0, 255, (n, 3), dtype=np.uint8))
    ph = pc._repr_html_()
    assert "<canvas" in ph and "<script>" in ph
    imgs = _decode_images(ph)
    assert len(imgs) == 1 and (imgs[0] != 245).any()  # the static fallback shows points


def test_render_points_projects_colours():
    xyz = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32)
    rgb = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    img = render_points(xyz, rgb, (100, 100), yaw=0, pitch=0)
    for c in rgb:
        assert (img == c).all(axis=2).any()


def test_consistency_faces_scene_html(rng):
    rep = ConsistencyReport("parallax", 0.9, "F explains the matches", pairs=({"i": 0, "j": 1, "ok": True},),
                            maps={"warp_difference": rng.integers(0, 255, (48, 64), dtype=np.uint8)})
    h = rep._repr_html_()
    assert "parallax" in h and len(_decode_images(h)) == 1
    faces = FaceTracks(ids=np.array([3], np.int32), present=np.array([[True], [False]]),
                       landmarks=np.zeros((2, 1, 478, 3), np.float32), bbox=np.zeros((2, 1, 4), np.float32),
                       cam_from_head=np.tile(np.eye(4), (2, 1, 1, 1)))
    assert "1/2" in faces._repr_html_()
    v = _video(rng, 4)
    scene = Scene(video=v, consistency=rep, faces=faces)
    sh = scene._repr_html_()
    assert "Video" in sh and "3D consistency" in sh and "Faces" in sh
    assert len(_decode_images(sh)) >= 2
