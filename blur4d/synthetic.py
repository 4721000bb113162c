"""Synthetic scenes with exact ground truth: textured fronto-parallel planes seen by a pinhole
camera along a known path, optionally with layers that move on their own.

Used for the bundled example photo, for the generator's ground-truth set and for tests. A plane
at depth Z (normal +z in the reference camera) maps from the reference view into a camera with
``cam_from_world = [R | t]`` by the homography ``K (R + t n^T / Z) K^-1``; each layer is warped
with it and composited back to front, so parallax between layers is exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .exposure import decode, encode_uint8
from .types import Intervals


@dataclass(frozen=True)
class Layer:
    """A textured plane. ``texture`` (H, W, 3) uint8 is what the reference camera sees at depth
    ``depth``; ``alpha`` (H, W) float in [0, 1] (None = opaque everywhere). ``motion(s)``
    returns an extra in-image shift (dx, dy) in reference pixels at time ``s`` (exposure units)
    for independently moving objects."""

    texture: np.ndarray
    depth: float
    alpha: np.ndarray | None = None
    motion: Callable[[float], tuple[float, float]] | None = None


@dataclass(frozen=True)
class CameraPath:
    """Camera motion as a function of time ``s`` in exposure units (the exposure is [-0.5, 0.5]).

    translation(s) -> (3,) the camera centre in world (reference-camera) coordinates;
    rotation(s) -> (3,) axis-angle (radians) of world_from_cam's rotation.
    """

    translation: Callable[[float], np.ndarray] = field(default=lambda s: np.zeros(3))
    rotation: Callable[[float], np.ndarray] = field(default=lambda s: np.zeros(3))

    def cam_from_world(self, s: float) -> np.ndarray:
        import cv2

        R_wc, _ = cv2.Rodrigues(np.asarray(self.rotation(s), np.float64).reshape(3, 1))
        c = np.asarray(self.translation(s), np.float64)
        T = np.eye(4)
        T[:3, :3] = R_wc.T
        T[:3, 3] = -R_wc.T @ c
        return T

    @staticmethod
    def linear(velocity: Sequence[float] = (0, 0, 0), angular: Sequence[float] = (0, 0, 0)) -> "CameraPath":
        v = np.asarray(velocity, np.float64)
        w = np.asarray(angular, np.float64)
        return CameraPath(translation=lambda s: v * s, rotation=lambda s: w * s)


@dataclass(frozen=True)
class Scene:
    layers: tuple[Layer, ...]  # back to front
    K: np.ndarray  # (3, 3)
    size: tuple[int, int]  # (W, H)
    path: CameraPath = field(default_factory=CameraPath)

    def render(self, s: float) -> np.ndarray:
        """Sharp frame at time ``s`` -> (H, W, 3) float32 linear light."""
        import cv2

        W, H = self.size
        out = np.zeros((H, W, 3), np.float32)
        for layer in self.layers:
            Hm = self.layer_homography(layer, s)
            lin = decode(layer.texture, "srgb")
            warped = cv2.warpPerspective(lin, Hm, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            if layer.alpha is None:
                out = warped
            else:
                a = cv2.warpPerspective(layer.alpha.astype(np.float32), Hm, (W, H), flags=cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_CONSTANT, borderValue=0)[..., None]
                out = out * (1 - a) + warped * a
        return out

    def layer_homography(self, layer: Layer, s: float) -> np.ndarray:
        """3x3 map from a layer's reference pixels into the frame at time ``s``: the plane's
        homography ``K (R + t n^T / Z) K^-1`` after the layer's own motion, if any."""
        T = self.path.cam_from_world(float(s))
        Hm = self.K @ (T[:3, :3] + np.outer(T[:3, 3], [0.0, 0.0, 1.0]) / layer.depth) @ np.linalg.inv(self.K)
        if layer.motion is not None:
            dx, dy = layer.motion(float(s))
            Hm = Hm @ np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1.0]])
        return Hm

    def layer_mask(self, k: int, s: float) -> np.ndarray:
        """(H, W) bool: where layer ``k`` covers the frame at time ``s`` (before occlusion by
        nearer layers), warped exactly as :meth:`render` warps it."""
        import cv2

        layer = self.layers[k]
        if layer.alpha is None:
            return np.ones(self.size[::-1], bool)
        return cv2.warpPerspective(layer.alpha.astype(np.float32), self.layer_homography(layer, s), self.size) > 0.5

    def depth_map(self, cam_from_world: np.ndarray) -> np.ndarray:
        """(H, W) z-depth of the front-most plane per pixel seen by a camera ``cam_from_world``
        (static layers: planes z = depth in the world; NaN where no layer is hit)."""
        import cv2

        W, H = self.size
        ys, xs = np.mgrid[0:H, 0:W]
        rays = np.stack([xs, ys, np.ones_like(xs)], -1).reshape(-1, 3) @ np.linalg.inv(self.K).T
        wfc = np.linalg.inv(cam_from_world)
        dz = rays @ wfc[2, :3]
        out = np.full(H * W, np.nan)
        for layer in self.layers:
            lam = (layer.depth - wfc[2, 3]) / dz
            if layer.alpha is None:
                out[:] = lam
                continue
            Xw = rays * lam[:, None] @ wfc[:3, :3].T + wfc[:3, 3]
            uv = (Xw / Xw[:, 2:3]) @ self.K.T
            a = cv2.remap(layer.alpha.astype(np.float32), uv[:, 0].astype(np.float32).reshape(H, W),
                          uv[:, 1].astype(np.float32).reshape(H, W), cv2.INTER_NEAREST, borderValue=0).ravel()
            out = np.where(a > 0.5, lam, out)
        return out.reshape(H, W)

    def render_interval(self, a: float, b: float, samples: int = 48) -> np.ndarray:
        """Linear-light average over [a, b] with ``samples`` sub-frames -> (H, W, 3) float32."""
        if b <= a:
            return self.render(a)
        ts = a + (np.arange(samples) + 0.5) / samples * (b - a)
        acc = np.zeros((self.size[1], self.size[0], 3), np.float64)
        for s in ts:
            acc += self.render(float(s))
        return (acc / samples).astype(np.float32)

    def photo(self, samples: int = 48, response: str = "srgb") -> np.ndarray:
        """The motion-blurred photo: Eq. 1 over the exposure [-0.5, 0.5] -> uint8."""
        return encode_uint8(self.render_interval(-0.5, 0.5, samples), response)

    def video(self, intervals: Intervals, samples_per_unit: int = 48, response: str = "srgb") -> np.ndarray:
        """Ground-truth frames for ``intervals`` -> (F, H, W, 3) uint8, each the blur of its own
        interval (at least 4 sub-frames; instantaneous intervals are sharp)."""
        frames = []
        for a, b in intervals.bounds:
            n = max(4, int(np.ceil((b - a) * samples_per_unit)))
            frames.append(encode_uint8(self.render_interval(float(a), float(b), n), response))
        return np.stack(frames)

    def cam_from_world(self, times: Sequence[float]) -> np.ndarray:
        return np.stack([self.path.cam_from_world(float(s)) for s in times])


def intrinsics(width: int, height: int, fov_deg: float = 60.0) -> np.ndarray:
    """Pinhole K with the given horizontal field of view, principal point at the image centre
    (pixel centres at integers: cx = (W - 1) / 2)."""
    f = 0.5 * width / np.tan(np.radians(fov_deg) / 2)
    return np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1.0]])


def _fit(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, 2)
    return cv2.resize(img[..., :3], size, interpolation=cv2.INTER_AREA if img.shape[1] > size[0] else cv2.INTER_CUBIC)


def example_scene(width: int = 640, height: int = 480, baseline: float = 0.12,
                  object_motion: tuple[float, float] = (0.0, 0.0)) -> Scene:
    """The bundled example: a textured background plane at 8 m, a mid-ground photo panel at
    4 m and a near panel at 2.5 m (scikit-image sample images), seen by a camera translating
    sideways by ``baseline`` metres over the exposure: real parallax."""
    K = intrinsics(width, height, 60.0)
    size = (width, height)
    layers = panel_layers(width, height, 8.0, (("astronaut", 4.0, (0.08, 0.15, 0.42, 0.62)),
                                               ("chelsea", 2.5, (0.55, 0.45, 0.90, 0.90))))
    if any(object_motion):
        last = layers[-1]
        mx, my = object_motion
        layers[-1] = Layer(last.texture, last.depth, last.alpha, motion=lambda s: (mx * s, my * s))
    return Scene(tuple(layers), K, size, CameraPath.linear(velocity=(baseline, 0.0, 0.0)))


# --------------------------------------------------------------------------------------------
# Ground-truth sets for the generator benchmark and tests
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GroundTruthCase:
    """A blurry photo with the true frames of the exposure and around it.

    photo: (H, W, 3) uint8, Eq. 1 over [-0.5, 0.5] computed from the same sub-frames as the
    present GT frames (so the GT itself is blur-consistent up to quantisation).
    frames: (F, H, W, 3) uint8, one per interval of ``intervals``; ``present`` marks the frames
    inside the exposure.
    """

    name: str
    photo: np.ndarray
    frames: np.ndarray
    intervals: Intervals
    scene: Scene

    @property
    def present(self) -> np.ndarray:
        return self.intervals.inside_exposure()


def ground_truth_case(scene: Scene, name: str = "scene", *, present: int = 7, past: int = 2, future: int = 2,
                      subframes: int = 8, response: str = "srgb") -> GroundTruthCase:
    """Render ``present`` equal sub-intervals of the exposure plus ``past``/``future`` frames of the
    same length just before/after it, each averaged over ``subframes`` sharp renders (linear
    light). ``present * subframes`` should be >= 48. The photo is the linear average of the
    present frames' sub-frames, encoded once."""
    d = 1.0 / present
    starts = -0.5 + d * np.arange(-past, present + future)
    intervals = Intervals(np.stack([starts, starts + d], axis=1))
    lin = [scene.render_interval(float(a), float(b), subframes) for a, b in intervals.bounds]
    inside = intervals.inside_exposure()
    photo_lin = np.mean([f for f, keep in zip(lin, inside) if keep], axis=0)
    frames = np.stack([encode_uint8(f, response) for f in lin])
    return GroundTruthCase(name, encode_uint8(photo_lin, response), frames, intervals, scene)


def panel_layers(width: int, height: int, back_depth: float,
                 panels: Sequence[tuple[str, float, tuple]], *, grain: int = 4) -> list[Layer]:
    """A textured background plane (scikit-image's coffee photo plus gravel grain, stronger for
    smaller ``grain``) at ``back_depth`` and opaque photo panels in front of it: ``panels`` holds
    (scikit-image sample name, depth, (x0, y0, x1, y1) as fractions of the image)."""
    from skimage import data

    size = (width, height)
    bg = _fit(data.coffee(), size)
    gravel = _fit(data.gravel(), size)
    bg = np.clip(bg.astype(np.int16) + (gravel.astype(np.int16) - 128) // grain, 0, 255).astype(np.uint8)
    layers = [Layer(bg, back_depth)]
    for name, depth, box in panels:
        img = getattr(data, name)()
        tex = np.zeros((height, width, 3), np.uint8)
        alpha = np.zeros((height, width), np.float32)
        x0, y0, x1, y1 = int(box[0] * width), int(box[1] * height), int(box[2] * width), int(box[3] * height)
        tex[y0:y1, x0:x1] = _fit(img, (x1 - x0, y1 - y0))
        alpha[y0:y1, x0:x1] = 1.0
        layers.append(Layer(tex, depth, alpha))
    return layers


def benchmark_scenes(width: int = 480, height: int = 272, blur: float = 1.0) -> dict[str, Scene]:
    """Four scenes with known motion over the exposure, for the generator benchmark:

    * ``translation``: the camera moves sideways; three planes at 8, 4 and 2.5 m (parallax);
    * ``rotation``: a pure camera rotation (mostly roll, a little pan) in front of one plane;
    * ``object``: a static camera, a panel moving across a static background (``Layer.motion``);
    * ``forward``: the camera moves forward along its optical axis (radial blur, zero at the centre).

    ``blur`` scales every motion (1.0: up to about 6 % of the image width on the nearest content).
    """
    K = intrinsics(width, height, 60.0)
    size = (width, height)
    panels = (("astronaut", 4.0, (0.08, 0.15, 0.42, 0.62)), ("chelsea", 2.5, (0.55, 0.45, 0.90, 0.90)))
    f = K[0, 0]
    out: dict[str, Scene] = {}
    # sideways translation: ~0.06 W on the near panel (2.5 m)
    b = blur * 0.06 * width * 2.5 / f
    out["translation"] = Scene(tuple(panel_layers(width, height, 8.0, panels)), K, size,
                               CameraPath.linear(velocity=(b, 0.0, 0.0)))
    # rotation: roll about the optical axis plus a little pan
    roll = blur * 0.06 * width / (0.5 * width)
    out["rotation"] = Scene(tuple(panel_layers(width, height, 6.0, ())), K, size,
                            CameraPath.linear(angular=(0.0, 0.25 * roll * 0.5 * width / f, roll)))
    # independent object motion on a static camera
    layers = panel_layers(width, height, 8.0, panels[1:])
    mx, my = blur * 0.06 * width, blur * 0.02 * width
    last = layers[-1]
    layers[-1] = Layer(last.texture, last.depth, last.alpha, motion=lambda s: (mx * s, my * s))
    out["object"] = Scene(tuple(layers), K, size, CameraPath())
    # forward motion: radial blur, ~6 % of W at the image corners of the 4 m plane
    vz = blur * 0.06 * width / (0.5 * np.hypot(width, height)) * 4.0
    out["forward"] = Scene(tuple(panel_layers(width, height, 6.0, panels[:1])), K, size,
                           CameraPath.linear(velocity=(0.0, 0.0, vz)))
    return out


def motion_field(scene: Scene, s0: float, s1: float) -> np.ndarray:
    """True displacement (H, W, 2) float32 (dx, dy) in pixels of the content visible at pixel x at
    time ``s0`` between ``s0`` and ``s1`` (the front-most layer with alpha > 0.5 wins)."""
    W, H = scene.size
    Kinv = np.linalg.inv(scene.K)
    n = np.array([0.0, 0.0, 1.0])
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    pts = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])

    def hom(layer: Layer, s: float) -> np.ndarray:
        T = scene.path.cam_from_world(s)
        Hm = scene.K @ (T[:3, :3] + np.outer(T[:3, 3], n) / layer.depth) @ Kinv
        if layer.motion is not None:
            dx, dy = layer.motion(s)
            Hm = Hm @ np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1.0]])
        return Hm

    flow = np.zeros((H * W, 2))
    for layer in scene.layers:
        ref = np.linalg.inv(hom(layer, s0)) @ pts
        ref = ref[:2] / ref[2]
        dst = hom(layer, s1) @ np.vstack([ref, np.ones(ref.shape[1])])
        d = (dst[:2] / dst[2] - pts[:2]).T
        if layer.alpha is None:
            flow = d
        else:
            xi = np.clip(np.rint(ref[0]).astype(int), 0, layer.alpha.shape[1] - 1)
            yi = np.clip(np.rint(ref[1]).astype(int), 0, layer.alpha.shape[0] - 1)
            h, w = layer.alpha.shape
            inside = (ref[0] >= 0) & (ref[0] <= w - 1) & (ref[1] >= 0) & (ref[1] <= h - 1)
            vis = inside & (layer.alpha[yi, xi] > 0.5)
            flow[vis] = d[vis]
    return flow.reshape(H, W, 2).astype(np.float32)


MOTION_KINDS = ("translation", "dolly", "pan", "tilt", "roll", "object", "planar", "static", "flat")
"""Labelled camera/scene motions of :func:`motion_clip` (see its docstring for the truth)."""


def motion_clip(kind: str, width: int = 640, height: int = 360, frames: int = 9,
                margin: int = 64, strength: float = 1.0) -> tuple[np.ndarray, str]:
    """A short clip with a KNOWN motion type, for testing 3D-consistency checks.

    kind -> (frames (F, H, W, 3) uint8, expected verdict):

    * ``translation``: sideways camera translation, background at 8 m + panels at 4 m and 2.5 m
      -> ``parallax``;
    * ``dolly``: forward camera translation, background at 10 m + panels at 4 m and 2.5 m -> ``parallax``;
    * ``pan`` / ``tilt`` / ``roll``: pure rotation about y / x / z, same layers -> ``homography``;
    * ``object``: static camera, one panel moving on its own -> ``independent motion``;
    * ``planar``: a single plane under a general translation -> ``homography``;
    * ``static``: nothing moves -> ``homography`` (no depth recoverable);
    * ``flat``: a nearly uniform grey wall under translation -> ``insufficient texture``.

    ``strength`` scales every motion (0.05 gives the sub-pixel baselines of real generated clips,
    where the expected verdict is still the one above but the evidence is weak).
    Frames are the exposure's ``frames`` equal sub-intervals (each blurred over its own interval).
    The scene is rendered ``margin`` pixels larger on every side and cropped, so that no
    mirrored border content (``BORDER_REFLECT``) enters the view. Focal length: 60 deg
    horizontal field of view for ``width``.
    """
    from skimage import data

    if kind not in MOTION_KINDS:
        raise ValueError(f"motion_clip: kind must be one of {MOTION_KINDS}, got {kind!r}")
    Wb, Hb = width + 2 * margin, height + 2 * margin
    f = 0.5 * width / np.tan(np.radians(60.0) / 2)
    K = np.array([[f, 0, (Wb - 1) / 2], [0, f, (Hb - 1) / 2], [0, 0, 1.0]])
    size = (Wb, Hb)
    bg = _fit(data.coffee(), size)
    gravel = _fit(data.gravel(), size)
    bg = np.clip(bg.astype(np.int16) + (gravel.astype(np.int16) - 128) // 3, 0, 255).astype(np.uint8)

    def panel(img: np.ndarray, box: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
        tex = np.zeros((Hb, Wb, 3), np.uint8)
        alpha = np.zeros((Hb, Wb), np.float32)
        x0, y0 = margin + int(box[0] * width), margin + int(box[1] * height)
        x1, y1 = margin + int(box[2] * width), margin + int(box[3] * height)
        tex[y0:y1, x0:x1] = _fit(img, (x1 - x0, y1 - y0))
        alpha[y0:y1, x0:x1] = 1.0
        return tex, alpha

    mid_tex, mid_a = panel(data.astronaut(), (0.08, 0.15, 0.40, 0.70))
    near_tex, near_a = panel(data.chelsea(), (0.58, 0.40, 0.88, 0.88))
    far = 10.0 if kind == "dolly" else 8.0
    layers: list[Layer] = [Layer(bg, far), Layer(mid_tex, 4.0, mid_a), Layer(near_tex, 2.5, near_a)]
    path = CameraPath()
    if kind == "translation":
        path = CameraPath.linear(velocity=(0.15 * strength, 0.0, 0.0))
    elif kind == "dolly":
        path = CameraPath.linear(velocity=(0.0, 0.0, 0.8 * strength))
    elif kind in ("pan", "tilt", "roll"):
        axis = {"pan": (0.0, 0.06, 0.0), "tilt": (0.05, 0.0, 0.0), "roll": (0.0, 0.0, 0.08)}[kind]
        path = CameraPath.linear(angular=tuple(strength * v for v in axis))
    elif kind == "object":
        mx, my = 48.0 * strength, 12.0 * strength
        layers = [layers[0], Layer(near_tex, 2.5, near_a, motion=lambda s: (mx * s, my * s))]
    elif kind == "planar":
        layers = [Layer(bg, 5.0)]
        path = CameraPath.linear(velocity=(0.2 * strength, 0.05 * strength, 0.3 * strength))
    elif kind == "flat":
        rng = np.random.default_rng(0)
        grey = np.full((Hb, Wb, 3), 128, np.uint8)
        grey = np.clip(grey + rng.normal(0, 0.6, grey.shape), 0, 255).astype(np.uint8)
        layers = [Layer(grey, 5.0)]
        path = CameraPath.linear(velocity=(0.2, 0.0, 0.0))
    scene = Scene(tuple(layers), K, size, path)
    big = scene.video(Intervals.present(frames))
    clip = np.ascontiguousarray(big[:, margin:margin + height, margin:margin + width])
    expected = {"translation": "parallax", "dolly": "parallax", "object": "independent motion",
                "flat": "insufficient texture"}.get(kind, "homography")
    return clip, expected
