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
* ``tos_woman``: frame 238 of the same clip (a woman, near frontal), box hand-drawn on the
  640x360 frame: x 255-425, y 72-277 (hairline to chin, cheek to cheek; checked visually). Its
  clips are drawn from a second random stream (``[seed, 1]``) after everything else, so the
  astronaut/tos/distractor clips of a seed are the same as before it was added.

True yaw of each face (``Clip.meta['true_yaw']``, signed; also pitch and roll): the texture's
own head rotation (``TEXTURE_POSE``) turned by the poster's rotation and the camera, then
expressed relative to the line of sight from the camera to the face (so a frontal face seen at
the edge of a wide frame is frontal). A yawed poster is a flat picture: its "true yaw" is the
yaw of the depicted head that a viewer would read, which is what a detector faces.
``TEXTURE_POSE`` was measured on the un-warped textures, independently of the detector tested:
manual landmarks (nose tip, chin, eye corners, mouth corners and, where visible, the cheek
edges; picked by eye on 4-6x enlargements with a pixel grid) fitted by PnP to blur4d's 3D face
model (60 deg FoV prior; yaw relative to the line of sight). Cross-check: blur4d's own Face Mesh
head pose on the same un-warped frames (``TEXTURE_POSE_FACEMESH``): astronaut 2.0 vs 0.6 deg,
tos 52.1 vs 50.1 (frames 116-124: 50.1-52.0), tos_woman 14.4 vs 23.5 (frames 230-238: 22.7-23.6);
the two disagree by 9 deg on tos_woman (her nose tip is central between the eyes by eye, Face
Mesh puts it 13 px off), so ``--texture-pose facemesh`` reports the bins with the other set.

Composed yaw is wrong for a turned face on a flat picture seen from the other side: seeing a
photo obliquely squashes it, it never turns the depicted head back (the hidden cheek stays
hidden). A ``tos`` poster at yaw -54 deg has a composed yaw of 0 deg and is plainly a squashed
three-quarter profile (640x360 seed 21). So each face also gets an *apparent* yaw: |texture
head yaw| + |yaw of the poster's normal relative to the line of sight| (a flat picture is never
more frontal than itself; obliqueness narrows it like a further turn). For the astronaut (texture
yaw 2 deg) both agree within 4 deg. The report's target rows (the issue's "frontal to 60 deg")
use the apparent yaw; the composed yaw is reported beside it (``composed ...`` rows).

Face heights from ``min_face_px``-ish (26 px) to ~0.9 of the frame height, poster yaw 10-55 deg,
pitch and roll up to 15/10 deg, light direction and ambient drawn per clip. Distractors: spheres
and posters with animal faces/textures under the same draws. Seeds 3 and 11-13 (640x360) were
used to diagnose and tune, and 640x360 seed 21 and 1280x720 seed 22 to decide the coarse tile
sweep; 640x360 seed 5 and 1280x720 seeds 2, 6, 7 were not (seed 5 was reported after earlier
changes), and 640x360 seed 131 was first rendered for the final report of that change.
"""

from __future__ import annotations

import numpy as np

TOS_FRAME = 120
TOS_BOX = np.array([398.0, 40.0, 526.0, 188.0])
WOMAN_FRAME = 238
WOMAN_BOX = np.array([255.0, 72.0, 425.0, 277.0])
WOMAN_CROP = (180, 20, 500, 340)  # x0, y0, x1, y1 of the poster texture on the frame
# head rotation of each texture's face, Euler 'yxz' (yaw, pitch, roll) degrees of cam_from_head
# relative to the line of sight; yaw > 0: the face turned towards the image's left
TEXTURE_POSE = {"astronaut": (2.0, -4.8, -0.6), "tos": (52.1, -5.0, 16.2), "tos_woman": (14.4, -2.8, -0.4)}
TEXTURE_POSE_FACEMESH = {"astronaut": (0.6, -0.5, 3.0), "tos": (50.1, -9.3, 13.4), "tos_woman": (23.5, 4.2, 0.8)}


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
        x0, y0, x1, y1 = WOMAN_CROP
        out["tos_woman"] = (np.ascontiguousarray(fr[WOMAN_FRAME, y0:y1, x0:x1]), WOMAN_BOX - [x0, y0, x0, y0])
    return out


def _los(p: np.ndarray) -> np.ndarray:
    """Rotation taking the ray through camera point ``p`` onto the optical axis (the smallest one)."""
    from scipy.spatial.transform import Rotation

    d = np.asarray(p, np.float64) / np.linalg.norm(p)
    ax = np.cross(d, [0.0, 0.0, 1.0])
    s = float(np.linalg.norm(ax))
    return Rotation.from_rotvec(ax / s * np.arctan2(s, d[2])).as_matrix() if s > 1e-12 else np.eye(3)


def true_pose(texture_ypr, u, v, T, centre_world) -> tuple[float, float, float]:
    """(yaw, pitch, roll) degrees of the depicted head relative to the line of sight, for a texture
    whose head has ``texture_ypr`` (relative to a frontal view of the texture) on a poster with
    axes ``u`` (texture x) and ``v`` (texture y), seen by the camera ``T`` (cam_from_world) at the
    face centre ``centre_world``."""
    from scipy.spatial.transform import Rotation

    u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
    P = np.stack([u, v, np.cross(u, v)], axis=1)  # texture frame (x right, y down, z into it) -> world
    R = T[:3, :3] @ P @ Rotation.from_euler("yxz", texture_ypr, degrees=True).as_matrix()
    p = T[:3, :3] @ np.asarray(centre_world, np.float64) + T[:3, 3]
    y, x, z = Rotation.from_matrix(_los(p) @ R).as_euler("yxz", degrees=True)
    return float(y), float(x), float(z)


def _rotation(yaw: float, pitch: float, roll: float) -> tuple[np.ndarray, np.ndarray]:
    from scipy.spatial.transform import Rotation

    R = Rotation.from_euler("yxz", [yaw, pitch, roll], degrees=True).as_matrix()
    return R @ np.array([1.0, 0, 0]), R @ np.array([0, 1.0, 0])


def _face_clip(name: str, tex: np.ndarray, fb: np.ndarray, h: float, rng, K: np.ndarray, size: tuple[int, int],
               frames: int):
    """One poster clip of texture ``name`` with its face about ``h`` px high (draws from ``rng``)."""
    from face_detection import Clip, _backdrop, _project, _shake

    from blur4d import raycast as R

    W, H = size
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
    scene = R.RaycastScene(tuple(_backdrop() + [poster]), light=light, ambient=float(rng.uniform(0.25, 0.7)))
    s = ph / tex.shape[0]
    corners = np.array([centre + ((px - tex.shape[1] / 2) * s) * u + ((py - tex.shape[0] / 2) * s) * v
                        for px, py in ((fb[0], fb[1]), (fb[2], fb[1]), (fb[2], fb[3]), (fb[0], fb[3]))])
    imgs, truth, poses = [], [], []
    for T in _shake(rng, frames):
        rgb, _, idx = R.render(scene, K, T, size, supersample=2)
        imgs.append(np.clip(np.rint(rgb + rng.normal(0, 1.5, rgb.shape)), 0, 255).astype(np.uint8))
        box = _project(K, T, corners)
        c = np.round((box[:2] + box[2:]) / 2).astype(int)
        seen = 0 <= c[0] < W and 0 <= c[1] < H and idx[c[1], c[0]] == len(scene.objects) - 1
        truth.append(box[None] if seen else np.zeros((0, 4)))
        poses.append({k: true_pose(table[name], u, v, T, corners.mean(0))
                      for k, table in (("manual", TEXTURE_POSE), ("facemesh", TEXTURE_POSE_FACEMESH),
                                       ("poster", {name: (0.0, 0.0, 0.0)}))})
    ypr = {k: np.mean([p[k] for p in poses], axis=0).round(1).tolist() for k in poses[0]}
    apparent = abs(TEXTURE_POSE[name][0]) + abs(float(np.mean([p["poster"][0] for p in poses])))
    return Clip(f"{name} {h_px:.0f}px yaw {yaw:.0f}", "face", np.stack(imgs), truth,
                float(np.mean([t[0, 3] - t[0, 1] for t in truth if len(t)] or [h_px])), abs(yaw),
                {"texture": name, "pitch": pitch, "roll": roll, "size": list(size), "poster_yaw": yaw,
                 "true_yaw": ypr["manual"][0], "true_pose": ypr["manual"], "true_pose_facemesh": ypr["facemesh"],
                 "poster_los_pose": ypr["poster"], "apparent_yaw": round(apparent, 1),
                 "apparent_yaw_facemesh": round(apparent - abs(TEXTURE_POSE[name][0])
                                                + abs(TEXTURE_POSE_FACEMESH[name][0]), 1)})


def build_heldout(size: tuple[int, int], seed: int, *, frames: int = 2, quick: bool = False) -> list:
    """The held-out clips: astronaut and tos posters and the distractors from ``seed`` (as before
    the third texture was added), then the tos_woman posters from the stream ``[seed, 1]``."""
    from face_detection import Clip, _backdrop, _shake, _tex

    from blur4d import raycast as R

    rng = np.random.default_rng(seed)
    W, H = size
    K = R.intrinsics(W, H, float(rng.uniform(50, 70)))
    texs = _textures(_tex)
    heights = np.geomspace(26, 0.85 * H, 5 if quick else 9)
    clips = []
    for name, (tex, fb) in texs.items():
        if name == "tos_woman":
            continue
        for h in heights:
            for _ in range(1 if quick else 2):
                clips.append(_face_clip(name, tex, fb, float(h), rng, K, size, frames))
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
    if "tos_woman" in texs:
        rng2 = np.random.default_rng([seed, 1])
        tex, fb = texs["tos_woman"]
        for h in heights:
            for _ in range(1 if quick else 2):
                clips.append(_face_clip("tos_woman", tex, fb, float(h), rng2, K, size, frames))
    return clips
