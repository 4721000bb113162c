"""Built-in point tracker, TAP-Vid metrics, synthetic ground-truth tracks, drawings, CLI."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from blur4d.errors import InputError, OutputExistsError
from blur4d.exposure import encode_uint8
from blur4d.tapvid import (evaluate_tracker_output, sample_queries, scene_tracks, tapvid_metrics,
                           tracking_scene)
from blur4d.types import Intervals, Tracks, Video

pytest.importorskip("cv2")

from blur4d.adapters.tracking import (BuiltinTracker, default_query_frame, grid_points,  # noqa: E402
                                      render_overlay, render_summary, resolve_queries, write_overlay,
                                      write_summary)


# ------------------------------------------------------------------------------------------
# fixtures: a small layered scene with a moving near panel (occlusions) and camera motion
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def case() -> dict:
    scene = tracking_scene(240, 180)
    ivs = Intervals.present(10)
    frames = np.stack([encode_uint8(scene.render(float(s)), "srgb") for s in ivs.centers])
    W, H = scene.size
    gy, gx = np.mgrid[3:H:6, 3:W:6]
    q = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float64)
    qi = default_query_frame(Video(frames, ivs))
    gt_xy, gt_vis, layer = scene_tracks(scene, ivs.centers, qi, q)
    return {"scene": scene, "video": Video(frames, ivs), "gt_xy": gt_xy, "gt_vis": gt_vis, "layer": layer,
            "size": (W, H), "qi": qi}


def _track_gt_queries(case: dict, mode: str, **options) -> tuple[Tracks, object]:
    idx, qf = sample_queries(case["gt_vis"], mode, stride=3)
    queries = np.concatenate([qf[:, None], case["gt_xy"][qf, idx]], 1)
    tracks = BuiltinTracker(queries=queries, **options)(case["video"], seed=0)
    return tracks, evaluate_tracker_output(case["gt_xy"], case["gt_vis"], tracks, idx, query_mode=mode,
                                           image_size=case["size"])


# ------------------------------------------------------------------------------------------
# TAP-Vid metrics
# ------------------------------------------------------------------------------------------
def test_metrics_perfect_and_known_errors():
    rng = np.random.default_rng(0)
    T, N = 6, 5
    gt = rng.uniform(0, 255, (T, N, 2))
    vis = np.ones((T, N), bool)
    vis[3, 1] = False
    qf = np.zeros(N, np.int64)
    m = tapvid_metrics(gt, vis, gt, vis, qf, image_size=(256, 256), query_mode="first")
    assert m.delta_avg == 1.0 and m.occlusion_accuracy == 1.0 and m.average_jaccard == 1.0
    # a 3 px error (at 256x256) is outside 1 and 2 px, inside 4, 8, 16: delta_avg = 3/5
    pred = gt + np.array([3.0, 0.0])
    m = tapvid_metrics(gt, vis, pred, vis, qf, image_size=(256, 256), query_mode="first")
    assert m.delta[1] == 0 and m.delta[2] == 0 and m.delta[4] == 1 and m.delta_avg == pytest.approx(0.6)
    # jaccard at 2 px: no TP; every visible prediction is a FP -> 0; at 4 px: all TP -> 1
    assert m.jaccard[2] == 0 and m.jaccard[4] == 1
    # the same error in a 512-wide image is 1.5 px at 256: inside 2 px
    m = tapvid_metrics(gt, vis, pred, vis, qf, image_size=(512, 256), query_mode="first")
    assert m.delta[2] == 1 and m.delta[1] == 0


def test_metrics_occlusion_and_query_modes():
    T, N = 4, 2
    gt = np.zeros((T, N, 2))
    vis = np.ones((T, N), bool)
    vis[2, 0] = False
    pred_vis = np.ones((T, N), bool)  # misses the occlusion
    qf = np.array([1, 1])
    first = tapvid_metrics(gt, vis, gt, pred_vis, qf, image_size=(10, 10), query_mode="first")
    strided = tapvid_metrics(gt, vis, gt, pred_vis, qf, image_size=(10, 10), query_mode="strided")
    assert first.num_evaluated == 4 and strided.num_evaluated == 6  # frames after vs all but the query
    assert first.occlusion_accuracy == pytest.approx(3 / 4) and strided.occlusion_accuracy == pytest.approx(5 / 6)
    # the predicted-visible point at an occluded frame is a false positive for Jaccard
    assert first.average_jaccard == pytest.approx(3 / 4)
    with pytest.raises(InputError):
        tapvid_metrics(gt, vis, gt[:, :1], pred_vis, qf, image_size=(10, 10))


def test_sample_queries():
    vis = np.array([[0, 1, 1], [1, 1, 0], [1, 0, 1], [1, 1, 1]], bool)  # (T=4, N=3)
    idx, qf = sample_queries(vis, "first")
    assert idx.tolist() == [0, 1, 2] and qf.tolist() == [1, 0, 0]
    idx, qf = sample_queries(vis, "strided", stride=2)
    assert list(zip(qf.tolist(), idx.tolist())) == [(0, 1), (0, 2), (2, 0), (2, 2)]


def test_scene_tracks_are_photometrically_exact(case):
    import cv2

    f, xy, vis = case["video"].frames, case["gt_xy"], case["gt_vis"]
    qi = case["qi"]

    def sample(img, p):
        return np.stack([cv2.remap(img[..., c].astype(np.float32), p[:, :1], p[:, 1:], cv2.INTER_LINEAR)[:, 0]
                         for c in range(3)], 1)

    ref = sample(f[qi], xy[qi])
    for t in (0, len(f) - 1):
        d = np.abs(sample(f[t], xy[t]) - ref).mean(1)
        both = vis[t] & vis[qi]
        assert np.median(d[both]) < 3.0  # the same surface point
        assert np.median(d[vis[qi] & ~vis[t]]) > 15.0  # occluded: something else is there
    assert (~vis).sum() > 50 and set(np.unique(case["layer"])) == {0, 1, 2}


# ------------------------------------------------------------------------------------------
# the tracker
# ------------------------------------------------------------------------------------------
def test_tracker_accuracy_on_synthetic_ground_truth(case):
    tracks, m = _track_gt_queries(case, "first")
    assert m.delta_avg >= 0.85, m.to_dict()
    assert m.occlusion_accuracy >= 0.75, m.to_dict()
    # points hidden by the passing near panel are reported occluded most of the time (0.70 since
    # the model also reads the wider surroundings, fitted with real footage: 0.95 before, while OA
    # here rose 0.959 -> 0.967)
    idx, qf = sample_queries(case["gt_vis"], "first")
    hidden = ~case["gt_vis"][:, idx] & (np.arange(len(case["video"]))[:, None] > qf[None])
    assert hidden.sum() > 20 and (~tracks.visible[hidden]).mean() > 0.6


def test_tracker_strided_queries_and_contract(case):
    tracks, m = _track_gt_queries(case, "strided")
    assert m.delta_avg >= 0.85, m.to_dict()
    T, N = tracks.xy.shape[:2]
    assert tracks.xy.dtype == np.float32 and tracks.visible.dtype == bool and tracks.confidence.dtype == np.float32
    assert tracks.query_frame.dtype == np.int32 and len(np.unique(tracks.query_frame)) > 1
    # the query is exact and visible at its own frame; confidence in [0, 1]
    ar = np.arange(N)
    np.testing.assert_array_equal(tracks.xy[tracks.query_frame, ar], tracks.query_xy)
    assert tracks.visible[tracks.query_frame, ar].all() and tracks.confidence[tracks.query_frame, ar].min() == 1.0
    assert 0.0 <= tracks.confidence.min() and tracks.confidence.max() <= 1.0
    assert np.isfinite(tracks.xy).all()
    assert tracks.intervals == case["video"].intervals and tracks.image_size == case["size"]
    assert tracks.provenance.backend == "track.builtin" and "track" in tracks.provenance.timings
    # visible points are more confident than occluded ones
    assert tracks.confidence[tracks.visible].mean() > tracks.confidence[~tracks.visible].mean() + 0.3


def test_tracker_grid_default_query_frame_and_determinism(case):
    from blur4d.progress import Recorder

    rec = Recorder()
    a = BuiltinTracker(grid_size=12)(case["video"], seed=0, progress=rec)
    b = BuiltinTracker(grid_size=12)(case["video"], seed=1)
    assert a.num_points == 144 and (a.query_frame == case["qi"]).all()
    np.testing.assert_array_equal(a.xy, b.xy)
    assert rec.calls[0][1] == 0 and rec.calls[-1][1] == rec.calls[-1][2]
    assert a.visible.mean() > 0.7


def test_tracker_dis_method_and_downscaled_tracking(case):
    _, m = _track_gt_queries(case, "first", method="dis")
    assert m.delta_avg >= 0.8, m.to_dict()
    # tracking on half-size frames returns full-size pixel coordinates
    _, m = _track_gt_queries(case, "first", max_side=120)
    assert m.delta_avg >= 0.6, m.to_dict()


def test_tracker_follows_a_pure_translation_exactly():
    from skimage import data

    img = data.astronaut()[100:300, 100:340]
    frames = np.stack([np.roll(img, (0, 2 * t), axis=(0, 1)) for t in range(6)])
    video = Video(frames, Intervals.present(6))
    tracks = BuiltinTracker(grid_size=6, query_frame=0)(video)
    inner = (tracks.query_xy[:, 0] > 30) & (tracks.query_xy[:, 0] < 190)
    err = tracks.xy[:, inner] - (tracks.query_xy[inner][None] + np.array([2.0, 0.0]) * np.arange(6)[:, None, None])
    assert np.abs(err).max() < 0.2 and tracks.visible[:, inner].all()


# ------------------------------------------------------------------------------------------
# queries, masks, errors
# ------------------------------------------------------------------------------------------
def test_grid_points_and_mask():
    pts = grid_points(100, 50, 4)
    assert pts.shape == (16, 2) and pts.min() >= 0 and pts[:, 0].max() <= 99 and pts[:, 1].max() <= 49
    assert np.array_equal(pts, np.rint(pts))
    mask = np.zeros((50, 100), np.uint8)
    mask[10:30, 60:90] = 255
    pts = grid_points(100, 50, 5, mask)
    assert len(pts) == 25 and (pts[:, 0] >= 60).all() and (pts[:, 1] < 30).all()
    with pytest.raises(InputError, match="no non-zero"):
        grid_points(100, 50, 5, np.zeros((50, 100)))
    ring = np.zeros((50, 100), np.uint8)  # a hollow box: its bounding box is big, its area tiny
    ring[[5, 45], 5:95] = 1
    ring[5:46, [5, 94]] = 1
    video = Video(np.zeros((3, 50, 100, 3), np.uint8), Intervals.present(3))
    with pytest.raises(InputError, match="larger --grid"):
        resolve_queries(video, grid_size=2, mask=ring)


def test_resolve_queries_files(tmp_path):
    video = Video(np.zeros((5, 40, 60, 3), np.uint8), Intervals.present(5))
    assert default_query_frame(video) == 2
    assert default_query_frame(Video(video.frames, Intervals.past_present_future(5))) == 2
    (tmp_path / "q.csv").write_text("t,x,y\n0,10,20\n4,30.5,5\n")
    qf, xy = resolve_queries(video, queries=tmp_path / "q.csv")
    assert qf.tolist() == [0, 4] and xy.tolist() == [[10, 20], [30.5, 5]]
    np.save(tmp_path / "q.npy", np.array([[1.0, 2.0], [3.0, 4.0]]))
    qf, xy = resolve_queries(video, queries=str(tmp_path / "q.npy"), query_frame=-1)
    assert qf.tolist() == [4, 4]
    mask_path = tmp_path / "m.png"
    from blur4d.media import write_image

    m = np.zeros((40, 60), np.uint8)
    m[:20, :30] = 255
    write_image(mask_path, m)
    qf, xy = resolve_queries(video, grid_size=4, mask=mask_path)
    assert len(xy) == 16 and xy[:, 0].max() < 30 and xy[:, 1].max() < 20
    for bad, msg in (({"queries": np.array([[0, 100.0, 5]])}, "outside"),
                     ({"queries": np.array([[9, 1.0, 5]])}, "frame indices"),
                     ({"queries": np.zeros((3, 4))}, "expected"),
                     ({"query_frame": 5}, "query-frame"),
                     ({"queries": tmp_path / "missing.csv"}, "no such file"),
                     ({"queries": np.array([[1.0, 2.0]]), "mask": m}, "either"),
                     ({"mask": np.ones((10, 10))}, "60x40")):
        with pytest.raises(InputError, match=msg):
            resolve_queries(video, **bad)
    with pytest.raises(InputError, match="unknown option"):
        BuiltinTracker(gird_size=3)
    with pytest.raises(InputError, match="method"):
        BuiltinTracker(method="raft")


# ------------------------------------------------------------------------------------------
# drawings, save/load, CLI
# ------------------------------------------------------------------------------------------
def test_overlay_summary_and_save(case, tmp_path):
    tracks = BuiltinTracker(grid_size=8)(case["video"])
    ov = render_overlay(case["video"], tracks)
    assert ov.shape == case["video"].frames.shape and ov.dtype == np.uint8
    assert np.abs(ov.astype(int) - case["video"].frames).mean() > 0.5  # something was drawn
    summary = render_summary(case["video"], tracks)
    assert summary.shape == case["video"].frames[0].shape
    p = write_overlay(tmp_path / "o.mp4", case["video"], tracks)
    s = write_summary(tmp_path / "s.png", case["video"], tracks)
    assert p.stat().st_size > 1000 and s.stat().st_size > 1000
    with pytest.raises(OutputExistsError):
        write_summary(tmp_path / "s.png", case["video"], tracks)
    tracks.save(tmp_path / "t.npz")
    back = Tracks.load(tmp_path / "t.npz")
    np.testing.assert_array_equal(back.xy, tracks.xy)
    np.testing.assert_array_equal(back.visible, tracks.visible)
    with pytest.raises(InputError, match="frames"):
        render_summary(case["video"].select(range(4)), tracks)


def test_summary_magnifies_small_motion_only():
    from blur4d.adapters.tracking import summary_magnification

    T, N = 5, 4
    q = np.array([[10.0, 10.0], [50.0, 10.0], [10.0, 50.0], [50.0, 50.0]])
    small = q[None] + np.arange(T)[:, None, None] * np.array([0.5, 0.0])  # 2 px in all: x9 (0.03 * 640 / 2)
    mk = lambda xy: Tracks(xy=xy.astype(np.float32), visible=np.ones((T, N), bool),  # noqa: E731
                           query_frame=np.zeros(N, np.int32), query_xy=q.astype(np.float32), image_size=(640, 480))
    assert summary_magnification(mk(small)) == 9
    big = small.copy()
    big[:, 0] += np.arange(T)[:, None] * 20.0  # one fast mover: true scale
    assert summary_magnification(mk(big)) == 1
    assert summary_magnification(mk(np.repeat(q[None], T, 0))) == 1


def test_tracks_keep_identity_through_occlusion(case):
    """Points that the moving panel covers and then uncovers are found again at the right place
    (re-acquired against the query patch), not swapped for another point."""
    tracks, _ = _track_gt_queries(case, "first")
    idx, qf = sample_queries(case["gt_vis"], "first")
    gv = case["gt_vis"][:, idx]
    T = gv.shape[0]
    reappear = []
    for n in range(gv.shape[1]):
        after = np.arange(T) > qf[n]
        hidden = np.flatnonzero(~gv[:, n] & after)
        if len(hidden) and hidden[-1] < T - 1 and gv[hidden[0] - 1, n]:
            reappear += [(t, n) for t in range(hidden[-1] + 1, T) if gv[t, n]]
    assert len(reappear) > 20
    t, n = np.array(reappear).T
    err = np.linalg.norm(tracks.xy[t, n] - case["gt_xy"][t, idx[n]], axis=-1)
    found = tracks.visible[t, n] & (err < 2.0)
    assert found.mean() > 0.5, found.mean()


def test_cli_track_video(case, tmp_path):
    from blur4d.cli.main import main

    src = tmp_path / "clip"
    case["video"].save(src)
    out = tmp_path / "tracks.npz"
    rc = main(["-q", "track", str(src), "--out", str(out), "--grid", "6", "--overlay", str(tmp_path / "o.mp4"),
               "--summary", str(tmp_path / "s.png")])
    assert rc == 0 and out.is_file() and (tmp_path / "o.mp4").is_file() and (tmp_path / "s.png").is_file()
    tr = Tracks.load(out)
    assert tr.num_points == 36 and tr.num_frames == 10 and (tr.query_frame == case["qi"]).all()
    assert (tmp_path / "tracks.npz.json").is_file()
    # csv output, a clip, explicit queries
    (tmp_path / "q.csv").write_text("x,y\n50,60\n120,90\n")
    rc = main(["-q", "track", str(src), "--out", str(tmp_path / "t.csv"), "--queries", str(tmp_path / "q.csv"),
               "--clip", "2:8"])
    assert rc == 0 and len((tmp_path / "t.csv").read_text().splitlines()) == 1 + 6 * 2
    # bad input: one line, exit 1; existing output without --overwrite: exit 1
    assert main(["-q", "track", str(src), "--out", str(tmp_path / "x.npz"), "--query-frame", "99"]) == 1
    assert main(["-q", "track", str(src), "--out", str(out)]) == 1
    assert main(["-q", "track", str(src), "--out", str(tmp_path / "y.npz"), "--clip", "3:4"]) == 1
    assert main(["-q", "track", str(src), "--out", str(tmp_path / "z.npz"), "--checkpoint", "w.pth"]) == 1
    assert main(["-q", "track", str(src), "--out", str(tmp_path / "z.npz"), "--backend", "cotracker"]) == 1


def test_real_video_tracks(shared_data, tmp_path):
    from blur4d.media import read_frames

    path = shared_data / "video" / "sam2_gallery" / "03_blocks.mp4"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    frames, fps = read_frames(path, max_frames=12)
    video = Video(frames[::2, ::2, ::2].copy(), Intervals.present(6), fps=fps)  # 640x360
    tracks = BuiltinTracker(grid_size=16)(video)
    # a textured top-down scene with a static camera: most points are found in every frame
    # and barely move
    assert tracks.visible.mean() > 0.7
    still = np.linalg.norm(tracks.xy - tracks.query_xy[None], axis=-1)[tracks.visible]
    assert np.median(still) < 0.5
    write_summary(tmp_path / "s.png", video, tracks)


@pytest.mark.skipif(importlib.util.find_spec("blur4d.generate.classical") is None,
                    reason="the classical generator (blur4d.generate.classical) is not in this checkout yet")
def test_track_photo_goes_through_generation(example_photo):
    from blur4d import api

    tracks = api.track(example_photo, grid_size=8, generate_options={"frames": 6})
    assert tracks.num_frames == 6 and tracks.num_points == 64
    assert tracks.image_size == (example_photo.shape[1], example_photo.shape[0])


# ------------------------------------------------------------------------------------------
# independently rendered occluders (open3d ray casting) and stability to query changes
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def raycast_case() -> dict:
    pytest.importorskip("open3d")
    from blur4d.raycast import occluder_clip

    clip = occluder_clip(160, 120, 24, seed=7, speed=2.0, step=6, query_every=8)
    return {"video": Video(clip["frames"], Intervals.present(24)), "gt_xy": clip["gt_xy"], "gt_vis": clip["gt_vis"],
            "size": clip["size"]}


def test_raycast_ground_truth_is_photometrically_consistent(raycast_case):
    """The ray-cast truth is right: visible points look like their query; occluded ones do not."""
    f, xy, vis = raycast_case["video"].frames.astype(np.float32), raycast_case["gt_xy"], raycast_case["gt_vis"]

    def grey(t, p):
        import cv2

        g = cv2.cvtColor(f[t], cv2.COLOR_RGB2GRAY)
        return cv2.remap(g, p[:, :1].astype(np.float32), p[:, 1:].astype(np.float32), cv2.INTER_LINEAR)[:, 0]

    first = np.argmax(vis, axis=0)
    ref = np.array([grey(int(t), xy[t, n][None])[0] for n, t in enumerate(first)])
    d_vis, d_occ = [], []
    for t in range(0, 24, 4):
        inside = (xy[t, :, 0] > 1) & (xy[t, :, 0] < 158) & (xy[t, :, 1] > 1) & (xy[t, :, 1] < 118)
        d = np.abs(grey(t, xy[t]) - ref)
        d_vis.append(d[vis[t] & inside & (np.abs(t - first) <= 2)])
        d_occ.append(d[~vis[t] & inside])
    assert np.median(np.concatenate(d_vis)) < 8 and np.median(np.concatenate(d_occ)) > 15
    assert 0.3 < vis.mean() < 0.95


def test_visibility_beats_always_visible_on_raycast_occluders(raycast_case):
    """Occlusion flags on fast-moving ray-cast occluders (a renderer the tracker was not built on,
    seeds never used for calibration) are more often right than calling everything visible."""
    from blur4d.tapvid import sample_queries

    for mode in ("first", "strided"):
        idx, qf = sample_queries(raycast_case["gt_vis"], mode, stride=4)
        queries = np.concatenate([qf[:, None], raycast_case["gt_xy"][qf, idx]], 1)
        tracks = BuiltinTracker(queries=queries)(raycast_case["video"])
        m = evaluate_tracker_output(raycast_case["gt_xy"], raycast_case["gt_vis"], tracks, idx, query_mode=mode,
                                    image_size=raycast_case["size"])
        allvis = Tracks(xy=tracks.xy, visible=np.ones_like(tracks.visible), query_frame=tracks.query_frame,
                        query_xy=tracks.query_xy)
        base = evaluate_tracker_output(raycast_case["gt_xy"], raycast_case["gt_vis"], allvis, idx, query_mode=mode,
                                       image_size=raycast_case["size"])
        assert m.occlusion_accuracy > base.occlusion_accuracy + 0.03, (mode, m.to_dict(), base.to_dict())
        assert m.average_jaccard > base.average_jaccard, (mode, m.to_dict(), base.to_dict())
        # the confidence is informative: it is p(visible and within 4 px at 256x256), so points
        # that are in view where the track says are much more probable than the rest, and a
        # confident point is mostly right
        gv = raycast_case["gt_vis"][:, idx]
        W, H = raycast_case["size"]
        err = np.linalg.norm((tracks.xy - raycast_case["gt_xy"][:, idx]) * np.array([256 / W, 256 / H]), axis=-1)
        right = gv & (err < 4)
        assert tracks.confidence[right].mean() > tracks.confidence[~right].mean() + 0.3
        sure = tracks.confidence >= 0.5
        assert right[sure].mean() > 0.8, right[sure].mean()
        assert (tracks.confidence <= 0.5)[~tracks.visible].all()  # never more confident than visible


def test_tracks_are_stable_to_sub_pixel_query_changes(shared_data):
    """Moving the queries by 0.001 px moves the tracks by about as much on most points, and by a
    fraction of a pixel at most on the rest (before: 5 % of the tracks moved by over 0.43 px); no
    confident track moves by a pixel; a moved query never moves another track."""
    from blur4d.media import read_frames

    path = shared_data / "video" / "sam2_gallery" / "01_dog.mp4"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    frames, fps = read_frames(path, max_frames=20)
    video = Video(frames[4:20, ::4, ::4].copy(), Intervals.present(16), fps=fps)  # 320x180, the dog running
    q = grid_points(video.width, video.height, 12).astype(np.float64)
    q += np.random.default_rng(0).uniform(-0.5, 0.5, q.shape)
    run = lambda pts: BuiltinTracker(queries=np.c_[np.full(len(pts), 8), pts])(video)  # noqa: E731
    a, b = run(q), run(q + 1e-3)
    d = np.linalg.norm(b.xy.astype(np.float64) - a.xy, axis=-1)
    seen = a.visible & b.visible
    assert seen.mean() > 0.5
    per_track = np.where(seen, d, 0).max(0)
    assert np.median(per_track) < 0.01 and np.percentile(per_track, 95) < 0.25
    assert (a.visible != b.visible).mean() < 0.01
    # no track that both runs call visible with confidence >= 0.5 moves by more than 1 px
    sure = seen & (a.confidence >= 0.5) & (b.confidence >= 0.5)
    assert sure.mean() > 0.5 and np.where(sure, d, 0).max() < 1.0
    one = q.copy()
    one[40] += 1e-3
    c = run(one)
    others = np.delete(np.linalg.norm(c.xy.astype(np.float64) - a.xy, axis=-1), 40, axis=1)
    # a point is found on its own; only while lost does it follow the median displacement of 8
    # neighbours (which may include the moved one), so a few others may move, but by little
    # (0.32 px for one of 143 tracks with the anchored carry; < 0.1 px with the frame-to-frame one)
    assert (others.max(0) > 0.01).mean() < 0.02 and others.max() < 0.5


def test_a_query_change_within_its_lattice_cell_moves_the_track_by_exactly_as_much(case):
    """Queries are tracked from the nearest point of a 1/query_grid px lattice and the track is
    moved by the rest: a change that stays in the lattice cell changes no decision, so every
    track moves by exactly the change (visibility and confidence identical)."""
    from blur4d.adapters.track_runs import on_lattice as _on_lattice

    W, H = case["size"]
    q = grid_points(W, H, 10).astype(np.float64) + 0.01
    assert (_on_lattice(q, 16) == _on_lattice(q + 0.003, 16)).all()
    # the lattice path (without the corner blend, ``query_cell=0``)
    run = lambda pts: BuiltinTracker(queries=np.c_[np.full(len(pts), case["qi"]), pts],  # noqa: E731
                                     query_cell=0)(case["video"])
    a, b = run(q), run(q + 0.003)
    assert np.abs(b.xy.astype(np.float64) - a.xy - 0.003).max() < 1e-4
    assert (a.visible == b.visible).all() and (a.confidence == b.confidence).all()
    with pytest.raises(InputError):
        BuiltinTracker(query_grid=-1)


def test_visible_tracks_stay_put_under_a_tiny_query_change_on_real_footage(shared_data):
    """Real 240 fps GoPro footage (both realblur clips, 320x180, 24 frames, 144 queries): moving
    every query by 0.001 px (4 diagonal directions) moved 3.0 % of the tracks that stay visible
    by over a pixel (mean over the 8 runs) when each was tracked from its exact query; from the
    query lattice (``query_grid``, 1/16 px) 0.3 % (only where a query crossed a lattice cell's edge,
    and the tracks its neighbours carry)."""
    import cv2

    shares = []
    for name in ("gopro_GOPR0477_11_00_f000165-000188", "gopro_GOPR0477_11_00_f000249-000272"):
        pngs = sorted((shared_data / "realblur" / name).glob("*.png"))
        if not pngs:
            pytest.skip(f"{shared_data / 'realblur' / name} not found")
        frames = np.stack([cv2.resize(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB), None, fx=0.25,
                                      fy=0.25, interpolation=cv2.INTER_AREA) for p in pngs])
        video = Video(frames, Intervals.present(len(frames)), fps=240.0)
        q = grid_points(video.width, video.height, 12).astype(np.float64)
        q += np.random.default_rng(0).uniform(-0.5, 0.5, q.shape)
        qf = len(frames) // 2
        run = lambda pts: BuiltinTracker(queries=np.c_[np.full(len(pts), qf), pts])(video)  # noqa: E731,B023
        a = run(q)
        for sign in ((1, 1), (-1, -1), (1, -1), (-1, 1)):
            b = run(q + 1e-3 * np.array(sign))
            d = np.linalg.norm(b.xy.astype(np.float64) - a.xy, axis=-1)
            seen = a.visible & b.visible
            assert seen.mean() > 0.5
            shares.append((np.where(seen, d, 0).max(0) > 1).mean())
    assert np.mean(shares) < 0.015, shares


def test_fragile_tracks_are_the_ones_a_hard_decision_steered():
    """Only tracks that were chained, patch-matched, or lost and then found again get the
    second (stability) run; verified-until-lost-for-good tracks do not."""
    from blur4d.adapters.track_runs import fragile as _fragile
    from blur4d.adapters.track_visibility import CHAINED, LOST, MATCHED, QUERY, VERIFIED

    V, C, M, L, Q = VERIFIED, CHAINED, MATCHED, LOST, QUERY
    state = np.array([[V, V, L, V, L, V],
                      [V, C, L, V, V, V],
                      [Q, Q, Q, Q, Q, Q],
                      [V, V, V, L, L, V],
                      [V, V, V, L, V, M]], np.int8)  # (T=5, n=6), query frame 2
    found = state != L
    assert _fragile(state, found, 2).tolist() == [False, True, False, False, True, True]
    with pytest.raises(InputError):
        BuiltinTracker(max_spread=0)


def test_a_decision_flipped_by_a_sub_pixel_query_change_puts_the_track_in_doubt():
    """Where a stability run (query moved by a fraction of a pixel) finds a point another way
    (here: the small verification window instead of the large one at frame 3, at the same
    position), the track is in doubt from there on, away from the query frame, and nowhere else;
    a track verified by the small window only is fragile (it gets the stability runs)."""
    from blur4d.adapters.track_runs import fragile as _fragile
    from blur4d.adapters.track_visibility import QUERY, VERIFIED

    T, n, q = 5, 2, 1
    gx = np.zeros((T, n, 2))
    gv = np.ones((T, n), bool)
    gs = np.full((T, n), VERIFIED, np.int8)
    gs[q] = QUERY
    gw = np.zeros((T, n), bool)
    gw[3, 0] = True  # this run verified point 0 at frame 3 with the small window only
    assert _fragile(gs, gv, q, gw).tolist() == [True, False]
    tracker = BuiltinTracker(stability_runs=2)
    calls = []

    def second_runs(pyr, qq, pts, TT, retry_where):
        calls.append(len(pts))  # both shifted copies of the one fragile track, in one call
        small = np.zeros((TT, len(pts)), bool)  # the large window passes in both runs
        return np.zeros((TT, len(pts), 2)), np.ones((TT, len(pts)), bool), None, gs[:, [0] * len(pts)], small

    tracker._track_group = second_runs
    found, carried, flipped = tracker._unstable(None, q, np.zeros((n, 2)), T, gx, gv, gs, gw)
    assert calls == [2]
    assert flipped[:, 0].tolist() == [False, False, False, True, True] and not flipped[:, 1].any()
    assert not found.any() and not carried.any()  # the positions agree: only the decision flipped
    with pytest.raises(InputError):
        BuiltinTracker(stability_runs=3)
    for bad in (0.0, 1.0):
        with pytest.raises(InputError):
            BuiltinTracker(visible_threshold=bad)


def test_a_track_only_claimed_gets_the_x_run_only():
    """A track run again only because its carried positions are called visible gets one
    stability run (query moved along x); a track a hard decision steered gets both; with
    claimed_runs=2 both get both. Each track is compared with its own copies only."""
    from blur4d.adapters.track_visibility import LOST, QUERY, VERIFIED

    T, n, q = 4, 3, 0
    gx = np.zeros((T, n, 2))
    gs = np.full((T, n), VERIFIED, np.int8)
    gs[q] = QUERY
    gs[2:, 1] = LOST  # point 1: lost for good, its carried positions claimed visible
    gv = gs != LOST
    gw = np.zeros((T, n), bool)
    gw[1, 2] = True  # point 2: verified by the small window only at frame 1 (fragile)
    claimed = np.array([False, True, False])
    for runs, expect in ((1, [1, 2, 2]), (2, [1, 2, 1, 2])):
        calls = []

        def second_runs(pyr, qq, pts, TT, retry_where):
            calls.append(pts.copy())
            bx = np.zeros((TT, len(pts), 2))
            bx[3, :, 0] = np.arange(1, len(pts) + 1)  # copy i puts its point i+1 px away at frame 3
            return bx, retry_where, None, gs[:, [1] * len(pts)], np.zeros((TT, len(pts)), bool)

        tracker = BuiltinTracker(stability_runs=2, claimed_runs=runs)
        tracker._track_group = second_runs
        found, carried, flipped = tracker._unstable(None, q, np.c_[np.arange(n), np.zeros(n)], T, gx, gv, gs, gw,
                                                    claimed)
        (pts,) = calls
        assert np.round(pts[:, 0]).astype(int).tolist() == expect  # which tracks' copies were run
        assert not found[:, 0].any() and not carried[:, 0].any() and not flipped[:, 0].any()
        # the largest distance over the track's own copies (copy i is i+1 px away at frame 3)
        for k in (1, 2):
            assert carried[3, k] == max(i + 1 for i, x in enumerate(expect) if x == k), (runs, k, carried[3])
    with pytest.raises(InputError):
        BuiltinTracker(claimed_runs=0)


def test_position_confidence_model_shape_and_direction():
    """The position model takes the visibility features plus the stability spread; a larger
    spread, a lost (carried) state or a point outside the frame lower p(visible and within 4 px)."""
    from blur4d.adapters.track_visibility import (COEF_POSITION, FEATURES, POSITION_FEATURES, position_features,
                                                  position_probability)

    assert POSITION_FEATURES[:len(FEATURES)] == FEATURES and len(COEF_POSITION) == len(POSITION_FEATURES)
    F = np.zeros((1, 4, len(FEATURES)))
    F[..., 0], F[..., 1], F[..., 5], F[..., 6], F[..., 11] = 1.0, 0.9, 0.95, 0.95, 1.0  # verified, well inside
    F[0, 2, 4], F[0, 2, 1] = 1.0, 0.0  # lost: carried by its neighbours, no tracker score
    F[0, 3, 11] = -0.1  # outside the frame
    spread = np.array([[0.0, 5.0, 0.0, 0.0]])
    p = position_probability(position_features(F, spread))[0]
    assert p[0] > 0.9 and p[1] < p[0] and p[2] < p[0] and p[3] == 0.0


def test_in_doubt_keeps_moving_positions_below_half_and_nothing_else():
    """Only positions the stability runs moved (more than max_spread, or a carried one more than
    half that) are in doubt; a flipped decision or a carried state alone are model inputs."""
    from blur4d.adapters.track_visibility import in_doubt

    lost = np.array([[False, False, True, True, False]])
    spread = np.array([[0.2, 1.5, 0.4, 0.7, 0.0]])
    found = np.array([[0.0, 0.0, 0.0, 0.0, 1.2]])
    assert in_doubt(lost, spread, found, 1.0).tolist() == [[False, True, False, True, True]]
    with pytest.raises(InputError):
        BuiltinTracker(doubt_cap=0.5)


def test_adapt_prior_moves_towards_the_clips_own_visible_share():
    """EM prior adjustment: a clip whose points look mostly visible gets a higher visible share
    and higher p (order kept); at the calibration prior's own share little changes; p = 0
    (outside the frame) stays 0."""
    from blur4d.adapters.track_visibility import TRAIN_VISIBLE, adapt_prior

    rng = np.random.default_rng(0)
    p = np.clip(rng.beta(8, 1, 5000), 1e-3, 1 - 1e-3)  # mean ~0.89 > TRAIN_VISIBLE
    p[:10] = 0.0
    out, share = adapt_prior(p, p > 0)
    assert share > TRAIN_VISIBLE and (out[10:] >= p[10:]).all() and (out[:10] == 0).all()
    assert np.all(np.diff(out[10:][np.argsort(p[10:])]) >= -1e-12)
    same = np.full(2000, TRAIN_VISIBLE)
    assert abs(adapt_prior(same, same > 0)[1] - TRAIN_VISIBLE) < 0.02


def _drift_clip(T: int = 12, W: int = 160, H: int = 120, q: int = 6, shift=(1.3, 0.7), seed: int = 0):
    """A low-contrast scene (grey-level std 1.5, a few textured blobs) translating by ``shift``
    px/frame, whose appearance drifts away from the query frame ``q`` (blur sigma 0.3 px/frame,
    gain 3 %/frame, offset 2 grey levels/frame: like real footage, where most points stay in
    view but their query patch stops matching), and a high-contrast occluder sliding in from the
    right after ``q`` (9 px/frame). -> (frames, truth xy (T, n, 2), truth visible (T, n), queries)."""
    import cv2

    rng = np.random.default_rng(seed)
    big = cv2.GaussianBlur(rng.normal(0, 1, (H + 80, W + 80)).astype(np.float32), (0, 0), 3)
    big = 110 + big / big.std() * 1.5
    for _ in range(12):
        x, y = rng.integers(20, W + 60), rng.integers(20, H + 60)
        big[y - 6:y + 6, x - 6:x + 6] += rng.normal(0, 25, (12, 12)).astype(np.float32)
    occ = np.clip(128 + rng.normal(0, 40, (H, W)), 0, 255).astype(np.float32)
    frames = []
    for t in range(T):
        d = np.array(shift) * (t - q)
        M = np.float32([[1, 0, 40 - d[0]], [0, 1, 40 - d[1]]])
        img = cv2.warpAffine(big, M, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        if t != q:
            img = cv2.GaussianBlur(img, (0, 0), 0.3 * abs(t - q))
        img = img * (1 + 0.03 * (t - q)) + 2.0 * (t - q)
        if t > q:
            img[:, W - 9 * (t - q):] = occ[:, W - 9 * (t - q):]
        frames.append(np.repeat(np.clip(img, 0, 255).astype(np.uint8)[..., None], 3, -1))
    pts = grid_points(W, H, 10).astype(np.float64)
    gt = pts[None] + np.array(shift)[None, None] * (np.arange(T) - q)[:, None, None]
    edge = np.where(np.arange(T) > q, W - 9 * (np.arange(T) - q), 10 ** 6)[:, None]
    return np.stack(frames), gt, gt[..., 0] < edge - 0.5, pts


def test_drifting_flat_points_stay_visible_and_covered_ones_do_not():
    """Real footage's failure mode (realblur: the points the tracker loses are flat patches whose
    query patch stops matching while they stay in view): carried points in view must stay
    visible, points a textured occluder covers must be flagged, so occlusion accuracy beats
    'always visible'. Not used to fit the visibility model."""
    T, q = 12, 6
    frames, gt, gv, pts = _drift_clip(T=T, q=q)
    tracker = BuiltinTracker(queries=np.c_[np.full(len(pts), q), pts])
    tracks = tracker(Video(frames, Intervals.present(T)))
    inside = (gt[..., 0] > 2) & (gt[..., 0] < 157) & (gt[..., 1] > 2) & (gt[..., 1] < 117)
    m = inside & (np.arange(T) != q)[:, None]
    lost = tracker.last_visibility_features[..., 4] > 0
    assert lost[m & gv].mean() > 0.5  # the drift path is exercised: most in-view points are carried
    assert tracks.visible[m & gv].mean() > 0.9, tracks.visible[m & gv].mean()
    oa, always = (tracks.visible == gv)[m].mean(), gv[m].mean()
    assert oa > always + 0.02, (oa, always, (~tracks.visible)[m & ~gv].mean())
    err = np.linalg.norm(tracks.xy - gt, axis=-1)
    assert np.median(err[m & gv]) < 1.0


def test_a_check_decided_at_its_threshold_with_a_far_alternative_is_at_the_edge():
    """``edge_band``: a verification that passed or failed within a factor of its threshold,
    and whose other outcome (the guess, or the refined position) lies more than ``max_spread``
    away, marks the point (a sub-pixel query change could flip it and move the point that far);
    a clear pass or fail, or a near one whose alternative is close, does not."""
    tracker = BuiltinTracker(edge_band=2.0, small_win=0)
    guess = np.zeros((5, 2))
    # refined positions and check scores (< 1 passes): narrow pass 3 px away, clear pass 3 px
    # away, narrow pass 0.3 px away, narrow fail 3 px away, clear fail 3 px away
    pos = np.array([[3.0, 0], [3, 0], [0.3, 0], [3, 0], [3, 0]])
    score = np.array([0.8, 0.2, 0.8, 1.3, 5.0])

    def verify_win(pyr, q, t, ref, g, win, lim=None):
        return pos.copy(), score < 1, np.ones(len(g)), score

    tracker._verify_win = verify_win
    out, passed, _, _ = tracker._verify(None, 0, 1, guess, guess)
    assert passed.tolist() == [True, True, True, False, False]
    assert tracker._edge.tolist() == [True, False, False, True, False]
    off = BuiltinTracker(small_win=0, edge_band=1.0)  # 1: off
    off._verify_win = verify_win
    off._verify(None, 0, 1, guess, guess)
    assert not off._edge.any()
    with pytest.raises(InputError):
        BuiltinTracker(edge_band=0.5)


def test_edge_band_keeps_fewer_confident_tracks_moving_under_a_small_query_change(shared_data):
    """Queries moved by 0.05 px (four diagonal directions, across the 1/16 px lattice) on the
    running dog (320x180, 16 frames, 144 queries): tracks that both runs call visible with
    confidence >= 0.5 and that move by over a pixel: 7 with the settings before t13h
    (``edge_band`` off, 8 carrying neighbours), fewer with ``edge_band=1.5`` and 24 (the lattice
    path, ``query_cell=0``), none with the corner blend (the default)."""
    from blur4d.media import read_frames

    path = shared_data / "video" / "sam2_gallery" / "01_dog.mp4"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    frames, fps = read_frames(path, max_frames=20)
    video = Video(frames[4:20, ::4, ::4].copy(), Intervals.present(16), fps=fps)
    q = grid_points(video.width, video.height, 12).astype(np.float64)
    q += np.random.default_rng(0).uniform(-0.5, 0.5, q.shape)
    counts = {}
    settings = {"before": {"edge_band": 1.0, "neighbours": 8, "carry_pool": 0, "query_cell": 0},
                "lattice": {"query_cell": 0}, "default": {}}
    for name, opts in settings.items():
        def run(pts: np.ndarray, opts: dict = opts) -> Tracks:
            return BuiltinTracker(queries=np.c_[np.full(len(pts), 8), pts], **opts)(video)

        a = run(q)
        n = 0
        for sign in ((1, 1), (-1, -1), (1, -1), (-1, 1)):
            b = run(q + 0.05 * np.array(sign))
            d = np.linalg.norm(b.xy.astype(np.float64) - a.xy, axis=-1)
            sure = a.visible & b.visible & (a.confidence >= 0.5) & (b.confidence >= 0.5)
            n += int((np.where(sure, d, 0).max(0) > 1).sum())
        counts[name] = n
    assert counts["lattice"] < counts["before"], counts
    assert counts["lattice"] <= 4, counts
    # the corner blend (default): a confident track moves by at most 0.1 * 8 px + the change
    assert counts["default"] == 0, counts
