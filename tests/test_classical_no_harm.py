"""The classical generator's no-blur decision and do-no-harm behaviour, on small synthetic cases."""

from __future__ import annotations

import numpy as np
import pytest

from blur4d.errors import InputError
from blur4d.exposure import decode, encode_uint8
from blur4d.generate._confidence import edge_ratio
from blur4d.generate.classical import ClassicalGenerator
from blur4d.metrics import blur_consistency, psnr_p
from blur4d.synthetic import benchmark_scenes, ground_truth_case
from blur4d.types import Intervals, Video


def _gen(**kw):
    return ClassicalGenerator(max_side=240, estimate_side=240, tile=48, iterations=10, **kw)


def _grid(W: int = 240, H: int = 136, period: int = 9) -> np.ndarray:
    """A sharp cutting-mat-like grid with thin lines and diagonal stripes (a texture with a
    preferred scale: the kind of sharp photo the autocorrelation estimate took for blur)."""
    rng = np.random.default_rng(1)
    img = np.full((H, W, 3), 40, np.uint8)
    img[::period] = 200
    img[:, ::period] = 200
    yy, xx = np.mgrid[0:H, 0:W]
    img[((xx + yy) % (2 * period)) == 0] = (230, 120, 60)
    for _ in range(12):  # a few sharp blocks on top
        x, y = rng.integers(0, W - 20), rng.integers(0, H - 20)
        img[y:y + 18, x:x + 18] = rng.integers(0, 255, 3)
    return img


def _mondrian(W: int = 240, H: int = 136, seed: int = 2) -> np.ndarray:
    """Sharp random rectangles: step edges everywhere."""
    rng = np.random.default_rng(seed)
    img = np.full((H, W, 3), 128, np.uint8)
    for _ in range(300):
        x, y = rng.integers(-10, W), rng.integers(-10, H)
        w, h = rng.integers(6, 30, 2)
        img[max(y, 0):y + h, max(x, 0):x + w] = rng.integers(0, 255, 3)
    return img


def _box_blur_x(img: np.ndarray, L: int) -> np.ndarray:
    lin = decode(img)
    acc = np.zeros_like(lin)
    for k in range(L):
        acc += np.roll(lin, k - L // 2, axis=1)
    return encode_uint8(acc / L)


def test_edge_ratio_tells_a_sharp_step_from_a_blurred_one():
    rng = np.random.default_rng(0)
    H, W, L = 96, 160, 9
    # piecewise-constant columns: sharp steps along x
    cols = np.repeat(rng.uniform(0.1, 0.9, W // 8), 8)[:W]
    sharp = np.tile(cols, (H, 1)).astype(np.float32)
    k = np.ones(L) / L
    blurred = np.stack([np.convolve(np.pad(r, L, mode="edge"), k, mode="same")[L:-L] for r in sharp]).astype(np.float32)
    V = np.zeros((H, W, 2), np.float32)
    V[..., 0] = L
    r_sharp, r_blur = edge_ratio(sharp, V), edge_ratio(blurred, V)
    assert r_blur < 1.5 < 3.0 < r_sharp, (r_blur, r_sharp)
    assert np.isnan(edge_ratio(sharp, np.zeros_like(V)))  # no motion: nothing to check


@pytest.mark.parametrize("kind", ["grid", "mondrian", "scene"])
def test_sharp_photo_is_no_blur_and_frames_are_the_photo(kind):
    photo = {"grid": _grid, "mondrian": _mondrian,
             "scene": lambda: encode_uint8(benchmark_scenes(240, 136)["translation"].render(0.0))}[kind]()
    res = _gen()(photo, Intervals.past_present_future(6), samples=2, seed=0)
    extra = res.provenance.extra
    assert extra["no_blur"] is True and extra["max_blur_px"] == 0.0
    for v in res.samples:  # bit-exact: face / track / check then see the photo itself
        assert all(np.array_equal(f, photo) for f in v.frames)
    assert float(res.ambiguity.max()) == 0.0


def test_the_grid_fooled_the_estimate_without_the_check():
    """The same sharp grid with the no-blur decision switched off invents motion (the failure the
    decision exists for); with it, none."""
    photo = _grid()
    raw = _gen(min_confidence=0.0)(photo, Intervals.present(5), seed=0)
    assert raw.provenance.extra["max_blur_px"] > 1.0
    assert psnr_p(raw.video.frames, np.repeat(photo[None], 5, 0))["psnr_p"] < 40.0


def test_real_blur_is_kept_with_confidence():
    case = ground_truth_case(benchmark_scenes(240, 136, blur=1.0)["translation"], "t", subframes=7)
    res = _gen()(case.photo, case.intervals, seed=0)
    extra = res.provenance.extra
    assert extra["no_blur"] is False and extra["confidence"]["0"] > 0.5
    pres = case.present
    ours = psnr_p(res.video.frames[pres], case.frames[pres])["psnr_p"]
    base = psnr_p(np.repeat(case.photo[None], pres.sum(), 0), case.frames[pres])["psnr_p"]
    assert ours > base + 2.0
    cam = [r for r in res.choices[0]["regions"] if r["kind"] == "camera"][0]
    assert cam["confidence"] == extra["confidence"]["0"]


@pytest.mark.parametrize("L", [5, 9, 13])
def test_box_blurred_edges_are_blur(L):
    """A real horizontal blur of sharp step edges is found and kept (the check rejects sharp
    texture, not blur)."""
    photo = _box_blur_x(_mondrian(), L)
    res = _gen()(photo, Intervals.present(5), seed=0)
    extra = res.provenance.extra
    assert extra["no_blur"] is False and extra["confidence"]["0"] > 0.5
    cam = [r for r in res.choices[0]["regions"] if r["kind"] == "camera"][0]
    assert abs(cam["blur_px"] - L) < 0.3 * L, cam


def test_unsure_motion_is_shrunk_toward_the_photo_and_stays_blur_consistent(monkeypatch):
    """Where a region's confidence c < 1, frames are photo + c (full-motion frames - photo) in
    linear light: closer to the photo, and still averaging back to it."""
    import importlib

    conf_mod = importlib.import_module("blur4d.generate._confidence")

    case = ground_truth_case(benchmark_scenes(240, 136, blur=1.0)["translation"], "t", subframes=7)
    ivs = Intervals.present(6)
    full = _gen()(case.photo, ivs, seed=0)
    c_full = full.provenance.extra["confidence"]["0"]
    orig = conf_mod.region_confidence

    def halved(bf, gray, min_confidence=0.15):
        bf2, conf = orig(bf, gray, min_confidence)
        return bf2, {r: 0.5 * c for r, c in conf.items()}

    monkeypatch.setattr(conf_mod, "region_confidence", halved)
    half = _gen()(case.photo, ivs, seed=0)
    assert half.provenance.extra["confidence"]["0"] == pytest.approx(0.5 * c_full, abs=1e-3)
    lin_p = decode(case.photo)
    d_full = np.abs(decode(full.video.frames) - lin_p).mean()
    d_half = np.abs(decode(half.video.frames) - lin_p).mean()
    assert 0.3 * d_full < d_half < 0.7 * d_full
    assert blur_consistency(Video(half.video.frames, ivs), case.photo) > 35.0
    # the unsure region reads as ambiguous
    assert float(half.ambiguity.mean()) >= 0.45


def _run_scaled(monkeypatch, case, ivs, scale: float, **kw):
    """Generate with every region's confidence multiplied by ``scale``; returns (generation,
    mean |latent - photo|, mean |frames - photo|) in linear light."""
    import importlib

    import cv2

    conf_mod = importlib.import_module("blur4d.generate._confidence")
    orig = conf_mod.region_confidence

    def scaled(bf, gray, min_confidence=0.15):
        bf2, conf = orig(bf, gray, min_confidence)
        return bf2, {r: scale * c for r, c in conf.items()}

    monkeypatch.setattr(conf_mod, "region_confidence", scaled)
    gen = _gen(**kw)
    out = gen(case.photo, ivs, seed=0)
    monkeypatch.setattr(conf_mod, "region_confidence", orig)
    lin_p = decode(case.photo)
    latent = gen._last["latent"]
    lat = np.abs(latent - cv2.resize(lin_p, latent.shape[1::-1], interpolation=cv2.INTER_AREA)).mean()
    return out, lat, np.abs(decode(out.video.frames) - lin_p).mean()


def _translation_case():
    return ground_truth_case(benchmark_scenes(240, 136, blur=1.0)["translation"], "t", subframes=7)


def test_confidence_damped_deconvolution_sharpens_unsure_motion_less(monkeypatch):
    """With ``deconv_confidence`` the deconvolution is damped by 1 - confidence: at low confidence
    the latent and the frames stay closer to the photo than at high confidence (and than without
    the option), and frames still average back to the photo."""
    case, ivs = _translation_case(), Intervals.present(6)
    _, lat_hi, d_hi = _run_scaled(monkeypatch, case, ivs, 1.0, deconv_confidence=1.0)
    low, lat_lo, d_lo = _run_scaled(monkeypatch, case, ivs, 0.4, deconv_confidence=1.0)
    _, lat_lo_off, d_lo_off = _run_scaled(monkeypatch, case, ivs, 0.4, deconv_confidence=0.0)
    assert lat_lo < 0.8 * lat_hi and lat_lo < 0.8 * lat_lo_off
    assert d_lo < d_hi and d_lo < d_lo_off
    assert blur_consistency(Video(low.video.frames, ivs), case.photo) > 35.0
    with pytest.raises(InputError):
        ClassicalGenerator(deconv_confidence=1.5)


def test_default_damps_unsure_motion_half_and_cli_uses_it(monkeypatch, tmp_path):
    """The default strength is 0.5 (chosen on the ray-cast SSIM_p and checked on the real sets, see
    the README's generate rows): it acts (unsure motion is sharpened less than with the option
    off, more than at full strength) and ``blur4d generate`` runs with it."""
    import json

    from blur4d.cli.main import main
    from blur4d.media import write_image

    assert ClassicalGenerator().deconv_confidence == 0.5
    case, ivs = _translation_case(), Intervals.present(4)
    _, lat_def, _ = _run_scaled(monkeypatch, case, ivs, 0.4)
    _, lat_off, _ = _run_scaled(monkeypatch, case, ivs, 0.4, deconv_confidence=0.0)
    _, lat_full, _ = _run_scaled(monkeypatch, case, ivs, 0.4, deconv_confidence=1.0)
    assert lat_full < lat_def < lat_off
    write_image(tmp_path / "photo.png", case.photo)
    small = ["-o", "max_side=160", "-o", "estimate_side=160", "-o", "tile=32", "-o", "iterations=5"]
    out = tmp_path / "v.mp4"
    assert main(["generate", str(tmp_path / "photo.png"), "--out", str(out), "--frames", "3", *small, "-q"]) == 0
    side = json.loads((tmp_path / "v.mp4.json").read_text())
    assert side["backend"] == "classical" and side["config"]["deconv_confidence"] == 0.5


def _thin_text(W: int = 240, H: int = 136) -> np.ndarray:
    """Sharp dark anti-aliased text on white: thin strokes, the content whose blur is hardest to tell."""
    import cv2

    img = np.full((H, W, 3), 245, np.uint8)
    for k in range(9):
        cv2.putText(img, "thin text 0123456789 wires"[k % 5:][:22], (4, 14 + 14 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (10, 10, 10), 1, cv2.LINE_AA)
    return img


def _wires(W: int = 240, H: int = 136) -> np.ndarray:
    """Sharp parallel power lines against a plain sky (thin lines at a regular spacing)."""
    import cv2

    img = np.full((H, W, 3), 190, np.uint8)
    xs = np.arange(0, W, 2)
    for k in range(5):
        ys = 15 + 25 * k + 12 * ((xs - W / 2) / (W / 2)) ** 2
        cv2.polylines(img, [np.stack([xs, ys], 1).astype(np.int32)], False, (25, 25, 25), 1, cv2.LINE_AA)
    return img


@pytest.mark.parametrize("kind", ["text", "wires"])
def test_sharp_thin_lines_are_no_blur(kind):
    """Thin sharp strokes and regularly spaced wires (a strong autocorrelation signature at their
    spacing) must not be read as motion: the frames are the photo, bit for bit."""
    photo = {"text": _thin_text, "wires": _wires}[kind]()
    res = _gen()(photo, Intervals.present(5), seed=0)
    assert res.provenance.extra["no_blur"] is True
    assert all(np.array_equal(f, photo) for f in res.video.frames)


def test_noise_only_photo_is_no_blur():
    """No content, only sensor noise: no evidence of anything, so no motion (past and future too)."""
    rng = np.random.default_rng(0)
    photo = np.clip(128 + rng.normal(0, 2, (136, 240, 3)), 0, 255).astype(np.uint8)
    res = _gen()(photo, Intervals.past_present_future(6), seed=0)
    assert res.provenance.extra["no_blur"] is True and res.provenance.extra["max_blur_px"] == 0.0
    assert all(np.array_equal(f, photo) for f in res.video.frames)


def test_blurred_thin_text_is_never_worse_than_the_photo_repeated():
    """Do no harm where the model is weak: thin text blurred 10 px horizontally (its true frames
    known). Whatever the generator decides (blur found, or "no blur" and the photo), its frames
    score no worse than the photo repeated against the true frames."""
    lin = decode(_thin_text())
    shifts = np.stack([np.roll(lin, k, axis=1) for k in range(-5, 5)])  # 10 sharp instants over the exposure
    photo = encode_uint8(shifts.mean(0))
    truth = encode_uint8(shifts.reshape(5, 2, *lin.shape).mean(1))  # 5 frames tiling the exposure
    res = _gen()(photo, Intervals.present(5), seed=0)
    ours = psnr_p(res.video.frames, truth)["psnr_p"]
    base = psnr_p(np.repeat(photo[None], 5, 0), truth)["psnr_p"]
    assert ours >= base - 0.1, (ours, base)


def test_peak_step_ratio_tells_sharp_thin_lines_from_blurred_edges():
    """Parallel one-pixel lines 7 px apart (the autocorrelation's blur signature at lag 7) read
    as sharp under a 7 px motion; a 7 px box blur of step edges reads as blur."""
    from blur4d.generate._confidence import peak_step_ratio

    H, W, L = 96, 160, 7
    lines = np.full((H, W), 0.8, np.float32)
    lines[:, ::L] = 0.1
    rng = np.random.default_rng(0)
    cols = np.repeat(rng.uniform(0.1, 0.9, W // 16), 16)[:W]
    k = np.ones(L) / L
    blurred = np.tile(np.convolve(np.pad(cols, L, mode="edge"), k, mode="same")[L:-L], (H, 1)).astype(np.float32)
    V = np.zeros((H, W, 2), np.float32)
    V[..., 0] = L
    assert peak_step_ratio(blurred, V) < 1.8 < 3.0 < peak_step_ratio(lines, V)
    assert np.isnan(peak_step_ratio(lines, np.zeros_like(V)))


def _one_sided_truths(scene, bounds):
    """True frames of ``bounds`` for the scene's motion and for its time reverse (the same photo)."""
    fwd = np.stack([encode_uint8(scene.render_interval(float(a), float(b), 8)) for a, b in bounds])
    rev = np.stack([encode_uint8(scene.render_interval(-float(b), -float(a), 8)) for a, b in bounds])
    return fwd, rev


def test_unsure_time_direction_costs_little_on_past_only_frames():
    """Only past frames asked for: the photo cannot tell the motion from its reverse, so the true
    past is either of two. Committing to one direction (belief 1) is worse than the photo
    repeated in one of the two worlds; the default render (both directions averaged) stays above
    the photo repeated in both."""
    scene = benchmark_scenes(240, 136, blur=1.0)["translation"]
    case = ground_truth_case(scene, "t", subframes=7)
    d = 1.0 / 7
    bounds = np.array([[-0.5 - 3 * d, -0.5 - 2 * d], [-0.5 - 2 * d, -0.5 - d], [-0.5 - d, -0.5]])
    truths = _one_sided_truths(scene, bounds)
    base = [psnr_p(np.repeat(case.photo[None], 3, 0), t)["psnr_p"] for t in truths]
    margins = {}
    for belief in (1.0, 0.5):
        frames = _gen(direction_belief=belief)(case.photo, Intervals(bounds), seed=0).video.frames
        margins[belief] = [psnr_p(frames, t)["psnr_p"] - b for t, b in zip(truths, base)]
    assert min(margins[1.0]) < -0.5 < 0.0 < min(margins[0.5]), margins
    assert max(margins[1.0]) > max(margins[0.5])  # the price: less gain in the lucky world


def test_symmetric_requests_and_present_frames_commit_to_one_direction():
    """Past and future asked for symmetrically (the clip reversed is the other answer) and frames
    inside the exposure are rendered as before (one direction, the clip may play backwards); an
    unpaired future frame is the average of both directions; guided regions always commit."""
    case = ground_truth_case(benchmark_scenes(240, 136, blur=1.0)["translation"], "t", subframes=7)
    sym = Intervals.past_present_future(6)
    a = _gen()(case.photo, sym, seed=0).video.frames
    b = _gen(direction_belief=1.0)(case.photo, sym, seed=0).video.frames
    assert np.array_equal(a, b)
    one = Intervals(np.array([[-0.5, 0.0], [0.0, 0.5], [0.6, 0.8]]))
    a = _gen()(case.photo, one, seed=0)
    b = _gen(direction_belief=1.0)(case.photo, one, seed=0)
    assert np.array_equal(a.video.frames[:2], b.video.frames[:2])
    assert np.abs(a.video.frames[2].astype(int) - b.video.frames[2]).mean() > 1.0
    guided = [_gen(direction_belief=bel)(case.photo, one, seed=0, direction="left-to-right").video.frames[2]
              for bel in (0.5, 1.0)]
    assert np.array_equal(*guided)
    with pytest.raises(InputError):
        _gen(direction_belief=0.2)


def test_tile_fit_marks_tiles_that_moved_otherwise():
    """A horizontal 9 px blur everywhere, except the right half blurred vertically: the field fitted
    to the all-horizontal photo explains the left tiles (fit near 1) and not the right ones (fit low),
    so the frames there stay near the photo."""
    from blur4d.generate._blurfield import estimate_field
    from blur4d.generate._confidence import tile_fit

    sharp = _mondrian(256, 192, seed=3)
    horiz = _box_blur_x(sharp, 9)
    vert = np.swapaxes(_box_blur_x(np.ascontiguousarray(np.swapaxes(sharp, 0, 1)), 9), 0, 1)
    mixed = horiz.copy()
    mixed[:, 128:] = vert[:, 128:]
    g_h, g_m = (decode(x).mean(axis=2) for x in (horiz, mixed))
    bf = estimate_field(g_h, tile=48)
    same = tile_fit(bf, g_h, 48)
    assert same.mean() > 0.8, same  # (single tiles of a texture can dip deeper elsewhere)
    fit = tile_fit(bf, g_m, 48)
    cols = bf.centers_x
    left, right = fit[:, cols < 100], fit[:, cols > 156]
    assert left.mean() > 0.8 > 0.3 > right.mean(), (left.mean(), right.mean())


def _object_scene(moving: bool) -> tuple[np.ndarray, np.ndarray]:
    """(photo, K=7 truth frames) at 320x240: sharp random rectangles, a 70 px textured object at
    rows 100-170 moving 14 px along x during the exposure (or standing still)."""
    H, W, L = 240, 320, 14
    rng = np.random.default_rng(0)
    bg = np.full((H, W, 3), 0.5, np.float32)
    for _ in range(120):
        x, y = rng.integers(0, W), rng.integers(0, H)
        w, h = rng.integers(4, 30, 2)
        bg[y:y + h, x:x + w] = rng.random(3)
    obj = np.zeros((70, 70, 3), np.float32)
    for _ in range(40):
        x, y = rng.integers(0, 70), rng.integers(0, 70)
        w, h = rng.integers(3, 15, 2)
        obj[y:y + h, x:x + w] = rng.random(3)
    lin_bg, lin_obj = decode(encode_uint8(bg, "srgb"), "srgb"), decode(encode_uint8(obj, "srgb"), "srgb")
    raw = []
    for s in np.linspace(-L / 2, L / 2, 29) if moving else np.zeros(29):
        f = lin_bg.copy()
        x0 = int(round(180 + s))
        f[100:170, x0:x0 + 70] = lin_obj
        raw.append(f)
    truth = np.stack([encode_uint8(np.mean(raw[i * 4:i * 4 + 5], 0), "srgb") for i in range(7)])
    return encode_uint8(np.mean(raw, 0), "srgb"), truth


def _seven() -> Intervals:
    return Intervals(np.stack([-0.5 + np.arange(7) / 7, -0.5 + (np.arange(7) + 1) / 7], 1))


def test_sharp_scene_with_a_still_object_frames_are_the_photo():
    photo, _ = _object_scene(moving=False)
    res = ClassicalGenerator()(photo, _seven(), seed=0)
    assert res.provenance.extra["no_blur"]
    assert np.array_equal(res.video.frames, np.repeat(photo[None], 7, 0))


def test_small_object_blurred_over_a_sharp_background_does_no_harm():
    """The tile stage does not find a 70 px object's own 14 px blur over a sharp static background
    (a known limit: local motion of a small object): the frames must then not be worse than the
    photo repeated, and must average back to the photo."""
    photo, truth = _object_scene(moving=True)
    res = ClassicalGenerator()(photo, _seven(), seed=0)
    frames = res.video.frames
    still = psnr_p(np.repeat(photo[None], 7, 0), truth)["psnr_p"]
    assert psnr_p(frames, truth)["psnr_p"] >= still - 1e-6
    assert blur_consistency(Video(frames, _seven()), photo) > 35.0
