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
        T = self.path.cam_from_world(s)
        R, t = T[:3, :3], T[:3, 3]
        Kinv = np.linalg.inv(self.K)
        out = np.zeros((H, W, 3), np.float32)
        n = np.array([0.0, 0.0, 1.0])
        for layer in self.layers:
            Hm = self.K @ (R + np.outer(t, n) / layer.depth) @ Kinv
            if layer.motion is not None:
                dx, dy = layer.motion(s)
                Hm = Hm @ np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1.0]])
            lin = decode(layer.texture, "srgb")
            warped = cv2.warpPerspective(lin, Hm, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            if layer.alpha is None:
                out = warped
            else:
                a = cv2.warpPerspective(layer.alpha.astype(np.float32), Hm, (W, H), flags=cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_CONSTANT, borderValue=0)[..., None]
                out = out * (1 - a) + warped * a
        return out

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
    from skimage import data

    K = intrinsics(width, height, 60.0)
    size = (width, height)
    bg = _fit(data.coffee(), size)
    gravel = _fit(data.gravel(), size)
    bg = np.clip(bg.astype(np.int16) + (gravel.astype(np.int16) - 128) // 4, 0, 255).astype(np.uint8)
    layers = [Layer(bg, 8.0)]
    for img, depth, box in ((data.astronaut(), 4.0, (0.08, 0.15, 0.42, 0.62)),
                            (data.chelsea(), 2.5, (0.55, 0.45, 0.90, 0.90))):
        tex = np.zeros((height, width, 3), np.uint8)
        alpha = np.zeros((height, width), np.float32)
        x0, y0, x1, y1 = int(box[0] * width), int(box[1] * height), int(box[2] * width), int(box[3] * height)
        tex[y0:y1, x0:x1] = _fit(img, (x1 - x0, y1 - y0))
        alpha[y0:y1, x0:x1] = 1.0
        layers.append(Layer(tex, depth, alpha))
    if any(object_motion):
        last = layers[-1]
        mx, my = object_motion
        layers[-1] = Layer(last.texture, last.depth, last.alpha, motion=lambda s: (mx * s, my * s))
    return Scene(tuple(layers), K, size, CameraPath.linear(velocity=(baseline, 0.0, 0.0)))
