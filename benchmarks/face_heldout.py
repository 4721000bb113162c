"""A held-out labelled face set for ``benchmarks/face_detection.py``: ray-cast scenes drawn with
other seeds, frame sizes, face sizes, yaws, pitches, rolls, lighting and a second face texture than
the tuning set of ``face_detection.build`` (whose scenes set the detector's thresholds). Nothing
in ``adapters/faces`` was tuned on it.

Faces (posters ray-cast by ``blur4d.raycast``, open3d Embree):

* ``astronaut``: skimage's astronaut, box hand-drawn on the texture (as in the tuning set);
* ``tos``: frame 120 of the Tears of Steel clip (a man with glasses, a three-quarter-to-profile
  view: head yaw ~58 deg by blur4d's own head pose on frames 118-122, visually well past 45 deg;
  a face unlike the astronaut), box hand-drawn on the 640x360 frame: x 398-526, y 40-188
  (hairline to chin, cheek to cheek; checked visually). The poster's yaw only foreshortens this
  already turned face: ``tos`` clips lie at or beyond the 60 deg end of the issue's yaw range
  whatever their poster yaw, so report them apart (``tos yaw ...`` rows).

Face heights from ``min_face_px``-ish (26 px) to ~0.9 of the frame height, poster yaw 10-55 deg,
pitch and roll up to 15/10 deg, light direction and ambient drawn per clip. Distractors: spheres
and posters with animal faces/textures under the same draws. Seeds 3 and 11-13 (640x360) were
used to diagnose and tune; 640x360 seed 5 and 1280x720 seeds 2, 6, 7 were not.
"""

from __future__ import annotations

import numpy as np

TOS_FRAME = 120
TOS_BOX = np.array([398.0, 40.0, 526.0, 188.0])


def _textures(tex):
    """(texture, face box on it) pairs: the astronaut crop of the tuning set and a ToS frame."""
    from face_detection import CROP, DATA, FACE_BOX

    from blur4d.media import read_frames

    x0, y0, x1, y1 = CROP
    out = {"astronaut": (tex("astronaut")[y0:y1, x0:x1], FACE_BOX - [x0, y0, x0, y0])}
    tos = DATA / "face" / "tears_of_steel" / "clip_01_tears_of_steel.mp4"
    if tos.is_file():
        fr, _ = read_frames(tos)
        out["tos"] = (np.ascontiguousarray(fr[TOS_FRAME, 0:300, 310:610]), TOS_BOX - [310, 0, 310, 0])
    return out


def _rotation(yaw: float, pitch: float, roll: float) -> tuple[np.ndarray, np.ndarray]:
    from scipy.spatial.transform import Rotation

    R = Rotation.from_euler("yxz", [yaw, pitch, roll], degrees=True).as_matrix()
    return R @ np.array([1.0, 0, 0]), R @ np.array([0, 1.0, 0])


def build_heldout(size: tuple[int, int], seed: int, *, frames: int = 2, quick: bool = False) -> list:
    from face_detection import Clip, _backdrop, _project, _shake, _tex

    from blur4d import raycast as R

    rng = np.random.default_rng(seed)
    W, H = size
    K = R.intrinsics(W, H, float(rng.uniform(50, 70)))
    texs = _textures(_tex)
    heights = np.geomspace(26, 0.85 * H, 5 if quick else 9)
    clips = []
    for name, (tex, fb) in texs.items():
        for h in heights:
            for _ in range(1 if quick else 2):
                h_px = float(h * rng.uniform(0.9, 1.1))
                yaw = float(rng.uniform(10, 55)) * rng.choice([-1, 1])
                pitch, roll = float(rng.uniform(-15, 15)), float(rng.uniform(-10, 10))
                u, v = _rotation(yaw, pitch, roll)
                ph = 1.0
                face_h = ph * (fb[3] - fb[1]) / tex.shape[0]
                z = K[1, 1] * face_h / h_px
                half_w, half_h = 0.5 * W / K[0, 0] * z, 0.5 * H / K[1, 1] * z
                cx = rng.uniform(-1, 1) * max(0.0, half_w - 0.6 * ph)
                cy = min(rng.uniform(-1, 1) * max(0.0, half_h - 0.6 * ph), 1.6 - 0.6 * ph)
                centre = np.array([cx, cy, z])
                pw = ph * tex.shape[1] / tex.shape[0]
                poster = R.SceneObject(R.quad(centre, u, v, pw, ph, tex), name="poster")
                light = tuple(float(x) for x in rng.uniform([-1, -1.2, -1], [1, -0.2, 0]))
                scene = R.RaycastScene(tuple(_backdrop() + [poster]), light=light,
                                       ambient=float(rng.uniform(0.25, 0.7)))
                s = ph / tex.shape[0]
                corners = np.array([centre + ((px - tex.shape[1] / 2) * s) * u + ((py - tex.shape[0] / 2) * s) * v
                                    for px, py in ((fb[0], fb[1]), (fb[2], fb[1]), (fb[2], fb[3]), (fb[0], fb[3]))])
                imgs, truth = [], []
                for T in _shake(rng, frames):
                    rgb, _, idx = R.render(scene, K, T, size, supersample=2)
                    imgs.append(np.clip(np.rint(rgb + rng.normal(0, 1.5, rgb.shape)), 0, 255).astype(np.uint8))
                    box = _project(K, T, corners)
                    c = np.round((box[:2] + box[2:]) / 2).astype(int)
                    seen = 0 <= c[0] < W and 0 <= c[1] < H and idx[c[1], c[0]] == len(scene.objects) - 1
                    truth.append(box[None] if seen else np.zeros((0, 4)))
                clips.append(Clip(f"{name} {h_px:.0f}px yaw {yaw:.0f}", "face", np.stack(imgs), truth,
                                  float(np.mean([t[0, 3] - t[0, 1] for t in truth if len(t)] or [h_px])), abs(yaw),
                                  {"texture": name, "pitch": pitch, "roll": roll, "size": list(size)}))
    for kind in ("sphere", "poster"):
        for texname in (("chelsea", "cat") if quick else ("chelsea", "cat", "coffee", "rocket")):
            tex = _tex(texname)
            h_px = float(rng.uniform(40, 0.5 * H))
            z = K[1, 1] * 1.0 / h_px
            centre = np.array([rng.uniform(-1, 1) * max(0.0, 0.5 * W / K[0, 0] * z - 0.6), 0.0, z])
            if kind == "sphere":
                obj = R.SceneObject(R.sphere(centre, 0.5, tex), name="sphere")
            else:
                u, v = _rotation(float(rng.uniform(-40, 40)), float(rng.uniform(-10, 10)), 0.0)
                obj = R.SceneObject(R.quad(centre, u, v, tex.shape[1] / tex.shape[0], 1.0, tex), name="poster")
            scene = R.RaycastScene(tuple(_backdrop() + [obj]),
                                   light=tuple(float(x) for x in rng.uniform([-1, -1.2, -1], [1, -0.2, 0])),
                                   ambient=float(rng.uniform(0.25, 0.7)))
            imgs = [np.clip(np.rint(R.render(scene, K, T, size, supersample=2)[0] + rng.normal(0, 1.5, (H, W, 3))),
                            0, 255).astype(np.uint8) for T in _shake(rng, frames)]
            clips.append(Clip(f"{kind} {texname} {h_px:.0f}px", f"{kind} ({texname})", np.stack(imgs),
                              [np.zeros((0, 4))] * frames, h_px))
    return clips
