"""Faces of any size: MediaPipe's full-range and short-range face detectors (whole frame plus a
round-robin sweep of overlapping tiles for small faces), the Face Mesh run on upscaled crops
around each face, and rejection of implausible meshes.

Per frame t:

1. candidate boxes = detections of both detectors on the whole frame, detections of the
   full-range detector on this frame's share of tiles (every tile is visited every
   ``tiles_per_frame`` tiles per frame in turn, all of them on the first frame; a tile is 192 px
   square per 24 px of ``min_face_px``, so a face of ``min_face_px`` keeps its size in the
   detector's 192 px input; with 1 tile per frame a 1280x720 frame (45 tiles) is swept every 45
   frames; with ``sweep_changes`` each sweep's tile goes instead, on every other frame at most,
   to the window centred where the frame changed most since that sweep last looked there, faces
   being tracked excepted; with ``follow_camera`` what a sweep last looked at moves with the
   camera's pan (phase correlation of consecutive thumbnails), and the strip a pan brings in over
   a border gets one more tile of each sweep on every frame, centred where that strip differs
   most from the border it came in over (with ``strip_peaks``: on its strongest blob of change the
   size of the sweep's smallest face, each blob in turn; tracked faces' boxes move with the pan),
   until looked at with the camera still: a face entering with a pan is looked at when it is
   whole), the whole-frame detectors every ``tile_period``
   frames and on the frame after a tracked face was lost, and the boxes of the faces accepted at t-1 (tracking between
   detections); merged by non-maximum suppression.
2. for each candidate, a square crop (``crop_scale`` times the box) is warped to 256x256 px
   (pixel centres at integer coordinates on both sides: full = crop / k + origin) and Face Mesh
   runs on it (its own short-range detector must find a face there too: a second opinion at a
   scale where it works).
3. a mesh is kept only when it is plausible: it lies where the candidate was (centre within
   half a face, size within a factor 2), and the 468 points fit the 3D face model under a
   perspective pose (PnP reprojection RMS below ``max_reprojection`` face sizes) with a
   believable aspect (forehead-chin / cheek-cheek distance in 0.9-2.5), and a second look at a
   crop centred on the mesh confirms a face there (:meth:`CropFaceDetector.confirmed`).

Temporal consistency (a face must be seen in ``min_track_frames`` frames) is applied after ids
are assigned (``tracking``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .detection import NUM_LANDMARKS, NUM_MESH, _iou, _landmark_boxes, _normalized_to_pixels

CROP_SIZE = 256



def _round_robin(tiles: list, start: int, per_frame: int, first: bool) -> tuple[list, int]:
    """Every tile on the first frame; afterwards ``per_frame`` tiles in turn from ``start``.
    Returns the tiles for this frame and the next start."""
    if first:
        return list(tiles), start
    n = min(per_frame, len(tiles))
    return [tiles[(start + i) % len(tiles)] for i in range(n)], (start + n) % len(tiles)

THUMB = 8  # px per cell of the change map's grey thumbnail


def _thumbnail(frame: np.ndarray) -> np.ndarray:
    """Grey thumbnail (float32, one cell per ``THUMB`` x ``THUMB`` px, area-averaged) of a frame."""
    import cv2

    g = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame
    h, w = g.shape[:2]
    return cv2.resize(g, (max(1, round(w / THUMB)), max(1, round(h / THUMB))),
                      interpolation=cv2.INTER_AREA).astype(np.float32)


def _unexplained_change(now: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """|now - seen| less what a shift of up to one cell explains: how far each cell of ``now`` lies
    outside the range of ``seen`` over the cell's 3x3 neighbourhood (0 inside it)."""
    import cv2

    k = np.ones((3, 3), np.uint8)
    return np.maximum(np.maximum(now - cv2.dilate(seen, k), cv2.erode(seen, k) - now), 0.0)


def _camera_shift(before: np.ndarray, now: np.ndarray, window: np.ndarray | None = None) -> np.ndarray:
    """(dx, dy) thumbnail cells by which the content of ``before`` moved to reach ``now`` (phase
    correlation: the camera's pan or tilt, the dominant translation); (0, 0) when the correlation
    peak is weak (response < 0.1: no one translation explains the change) or the shift exceeds a
    quarter of the thumbnail."""
    import cv2

    if window is None:
        window = cv2.createHanningWindow((now.shape[1], now.shape[0]), cv2.CV_32F)
    (dx, dy), response = cv2.phaseCorrelate(before, now, window)
    th, tw = now.shape
    if not (response >= 0.1 and abs(dx) <= tw / 4 and abs(dy) <= th / 4):
        return np.zeros(2)
    return np.array([dx, dy])


def _shifted(seen: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """``seen`` moved by whole cells (dx, dy); the cells a pan uncovers repeat the border they come
    in over (so content entering there counts as change where it differs from that border)."""
    import cv2

    th, tw = seen.shape
    M = np.array([[1.0, 0.0, float(dx)], [0.0, 1.0, float(dy)]])
    return cv2.warpAffine(seen, M, (tw, th), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)


def _changed_window(change: np.ndarray, W: int, H: int, side: int, min_change: float,
                    only: np.ndarray | None = None, peak: int = 0,
                    skip: np.ndarray | None = None) -> tuple[int, int] | None:
    """(x0, y0) of the ``side`` px square window centred where ``change`` (a thumbnail of |grey
    now - grey when last looked at|) is largest, averaged over half a window; None when that
    average is below ``min_change`` grey levels. ``only`` (a boolean thumbnail): the average is
    over those cells alone (a strip a pan brought in), the window centred among them. ``peak``
    (cells, with ``only``): averaged over ``peak`` x ``peak`` cells instead (a face of the sweep's
    smallest size), over the cells within ``peak`` cells of ``only`` (a face entering with a pan
    lies partly beyond the strip the camera's shift at the frame centre accounts for): the window
    centred on the strongest compact change there, not on the strip's largest mean change (a
    small face is a small part of a half-window average); not on the cells ``skip`` (a boolean
    thumbnail: looked at already)."""
    import cv2

    th, tw = change.shape
    sx, sy = W / tw, H / th
    k = max(1, int(round(side / 2 / sx)))
    if only is not None and peak > 0:
        k = int(peak)
        near = cv2.dilate(only.astype(np.uint8), np.ones((2 * k + 1, 2 * k + 1), np.uint8)) > 0
        if skip is not None:
            near &= ~skip
        e = k // 2  # a blob centred closer to the frame's edge is a face cut by it
        near[:e], near[th - e:], near[:, :e], near[:, tw - e:] = False, False, False, False
        m = np.where(near, cv2.blur(change, (k, k)), 0.0)
    elif only is not None:
        change = np.where(only, change, 0.0).astype(np.float32)
        n = cv2.blur(only.astype(np.float32), (k, k))
        m = np.where(n > 0, cv2.blur(change, (k, k)) / np.maximum(n, 1e-6), 0.0)
    else:
        m = cv2.blur(change, (k, k))
    i = int(np.argmax(m))
    if not float(m.flat[i]) >= min_change:
        return None
    cy, cx = divmod(i, tw)
    # the averaged map is flat over a blob smaller than the kernel: centre on the change's
    # centroid within the kernel around its maximum instead
    a0, b0 = max(0, cx - k // 2), max(0, cy - k // 2)
    part = change[b0:b0 + k, a0:a0 + k]
    w = float(part.sum())
    if w > 0:
        yy, xx = np.mgrid[b0:b0 + part.shape[0], a0:a0 + part.shape[1]]
        cx, cy = float((xx * part).sum()) / w, float((yy * part).sum()) / w
    x = (cx + 0.5) * sx - 0.5  # cell centre in full-frame pixels (pixel centres at integers)
    y = (cy + 0.5) * sy - 0.5
    return (int(np.clip(round(x - side / 2), 0, max(0, W - side))),
            int(np.clip(round(y - side / 2), 0, max(0, H - side))))


def _tiles(W: int, H: int, side: int) -> list[tuple[int, int, int]]:
    """Overlapping square tiles (x0, y0, side) covering a W x H frame (overlap >= side / 4)."""
    side = int(min(side, max(W, H)))
    if side >= max(W, H):
        return []

    def starts(n: int) -> list[int]:
        if side >= n:
            return [0]
        k = int(np.ceil((n - side) / (0.75 * side))) + 1
        return [int(round(v)) for v in np.linspace(0, n - side, k)]

    return [(x, y, side) for y in starts(H) for x in starts(W)]


def _nms(boxes: np.ndarray, scores: np.ndarray, iou_max: float = 0.4) -> np.ndarray:
    order = np.argsort(-scores)
    keep: list[int] = []
    for i in order:
        if all(_iou(boxes[i], boxes[k]) <= iou_max for k in keep):
            keep.append(int(i))
    return np.asarray(keep, int)


class CropFaceDetector:
    """Stateful per-clip detector (see the module docs); :meth:`__call__` one frame ->
    (n, 478, 3) landmarks in full-frame pixels, :meth:`close` releases MediaPipe graphs."""

    def __init__(self, mp: Any, W: int, H: int, *, min_score: float = 0.5, max_faces: int = 4,
                 min_face_px: float = 24.0, tile_period: int = 4, tiles_per_frame: int = 1,
                 crop_scale: float = 1.9, confirm_scales: tuple[float, ...] = (2.0, 3.0, 1.5),
                 max_reprojection: float = 0.10, model: np.ndarray | None = None, track: bool = True,
                 stretches: tuple[float, ...] = (1.4,), views: tuple[float, ...] = (),
                 widened_tiles: bool = False, coarse_tiles_per_frame: int = 1, sweep_changes: bool = True,
                 min_change: float = 6.0, shift_tolerant_change: bool = True, follow_camera: bool = True,
                 strip_peaks: bool = True) -> None:
        fd = mp.solutions.face_detection
        self.full = fd.FaceDetection(model_selection=1, min_detection_confidence=float(min_score))
        self.short = fd.FaceDetection(model_selection=0, min_detection_confidence=float(min_score))
        self.mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True,
                                                    min_detection_confidence=float(min_score))
        self._mp = mp
        self.graphs: list[Any] = []  # one video-mode Face Mesh per face of the previous frame
        self.W, self.H = int(W), int(H)
        self.max_faces = int(max_faces)
        self.min_score = float(min_score)
        self.confirm_short = max(float(min_score), 0.8)
        self.confirm_scales = tuple(float(x) for x in confirm_scales)
        # turned faces: Face Mesh retried on crops widened this much; whole-frame detectors also run
        # on the frame widened by ``views`` (and the tile sweep too with ``widened_tiles``)
        self.stretches = tuple(float(x) for x in stretches if float(x) != 1.0)
        self.views = tuple(float(x) for x in views if float(x) != 1.0)
        side = int(round(192 * float(min_face_px) / 24.0))
        self.tiles = [(x, y, s, st) for st in (1.0, *(self.views if widened_tiles else ()))
                      for x, y, s in _tiles(int(round(self.W * st)), self.H, side)]
        # a second, coarser sweep (tiles twice as large, so faces of 2 min_face_px up to the size
        # the whole-frame detectors find): a mid-size face entering a large frame is found within
        # len(coarse) / coarse_tiles_per_frame frames instead of waiting for the fine sweep
        self.coarse = [(x, y, s, 1.0) for x, y, s in _tiles(self.W, self.H, 2 * side)] \
            if coarse_tiles_per_frame > 0 else []
        self.coarse_per_frame = max(0, int(coarse_tiles_per_frame))
        self._next_coarse = 0
        # changed regions first: each sweep keeps a grey thumbnail of what it last looked at; its
        # tile of a frame is the window (fine or coarse size) centred where the frame changed most
        # since then (a face entering, walking in, turning up), the round robin when nothing changed
        # by ``min_change`` grey levels (averaged over half a window) and on the frame after a
        # changed window (so a video changing everywhere still has every tile swept in turn)
        self.sweep_changes = bool(sweep_changes)
        self.min_change = float(min_change)
        # change not explained by the content moving up to one thumbnail cell (THUMB px): a hand-held
        # camera's shake shifts a textured background everywhere, a face appearing is new content
        self.shift_tolerant_change = bool(shift_tolerant_change)
        self._seen: dict[int, np.ndarray] = {}  # sweep tile side -> thumbnail of what it last looked at
        # ... moved with the camera (its pan between consecutive thumbnails, by phase correlation), so
        # a pan is not change everywhere: what it brings in at a border is (where it differs)
        self.follow_camera = bool(follow_camera)
        # the strip's extra tile goes to its strongest face-sized blob of change (one per frame, the
        # next one once looked at), not to where its change averaged over half a tile is largest
        self.strip_peaks = bool(strip_peaks)
        self._before: np.ndarray | None = None  # the previous frame's thumbnail
        self._drift = np.zeros(2)  # camera shift (cells) not yet applied to the thumbnails
        self._hann: np.ndarray | None = None
        self._moved = False  # the thumbnails moved with the camera on this frame
        self._in = np.zeros(2, int)  # ... by these whole cells (dx > 0: content came in over the left border)
        self._last_entering: list = []  # this frame's looks at what a pan brought in
        self._entered: dict[int, np.ndarray] = {}  # sweep side -> cells a pan brought in, not looked at yet
        # ... and, with ``strip_peaks``, cells of it that the strip's tile already showed (each blob of
        # change in turn, the strongest first, then the next, while the pan goes on)
        self._strip_done: dict[int, np.ndarray] = {}
        self._strip_last: dict[int, np.ndarray] = {}  # ... and its window on the previous frame
        self._went_to_change: set[int] = set()  # sweeps whose tile went to a change on the last frame
        # the whole-frame detectors run every tile_period frames; the tiles round-robin,
        # tiles_per_frame of them per frame (larger frames take more frames to sweep)
        self.tile_period = max(1, int(tile_period))
        self.tiles_per_frame = max(1, int(tiles_per_frame))
        self._next_tile = 0
        self._relook = False  # a face was lost: run the whole-frame detectors on the next frame
        self._lost: list[tuple[np.ndarray, int]] = []  # (last box, frames left) of faces lost lately
        self.lost_frames = 5  # ... looked for around their last box on this many frames
        self.crop_scale = float(crop_scale)
        self.max_reprojection = float(max_reprojection)
        self.model = model
        self.track = bool(track)  # False: every frame on its own (all tiles, no previous faces)
        self.t = 0
        self.previous = np.zeros((0, 4))
        self.stats = {"candidates": 0, "meshes": 0, "stretched": 0, "rejected_position": 0, "rejected_geometry": 0,
                      "rejected_unconfirmed": 0}

    def _video_mesh(self) -> Any:
        return self._mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=True,
                                                     min_detection_confidence=self.min_score,
                                                     min_tracking_confidence=0.5)

    def close(self) -> None:
        for g in (self.full, self.short, self.mesh, *self.graphs):
            g.close()
        self.graphs = []

    # -- detection ------------------------------------------------------------------------------
    @staticmethod
    def _boxes(res: Any, W: int, H: int, x0: float = 0.0, y0: float = 0.0) -> list[tuple[np.ndarray, float]]:
        out = []
        for d in res.detections or []:
            b = d.location_data.relative_bounding_box
            box = np.array([b.xmin * W - 0.5, b.ymin * H - 0.5, (b.xmin + b.width) * W - 0.5,
                            (b.ymin + b.height) * H - 0.5]) + [x0, y0, x0, y0]
            out.append((box, float(d.score[0])))
        return out

    @staticmethod
    def _view(frame: np.ndarray, stretch: float, x0: int, y0: int, w: int, h: int) -> np.ndarray:
        """The w x h window at (x0, y0) of the frame widened ``stretch`` times (x' = stretch x)."""
        import cv2

        M = np.array([[stretch, 0.0, -float(x0)], [0.0, 1.0, -float(y0)]])
        return cv2.warpAffine(frame, M, (int(w), int(h)), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def _around(self, frame: np.ndarray, box: np.ndarray) -> list[tuple[np.ndarray, float, float]]:
        """Full-range detections in a square window 4 face sizes wide around ``box`` (a small or
        blurred face that the whole-frame detectors miss is found at this scale)."""
        c = (box[:2] + box[2:]) / 2
        side = int(min(max(192.0, 4.0 * float(np.max(box[2:] - box[:2]))), self.W, self.H))
        x0 = int(np.clip(round(c[0] - side / 2), 0, self.W - side))
        y0 = int(np.clip(round(c[1] - side / 2), 0, self.H - side))
        win = np.ascontiguousarray(frame[y0:y0 + side, x0:x0 + side])
        return [(b, sc, 1.0) for b, sc in self._boxes(self.full.process(win), side, side, x0, y0)]

    def candidates(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, 4) candidate boxes for this frame (detections + previous faces), NMS-merged, and
        (n,) whether each continues a face of the previous frame. The whole-frame detectors run
        every ``tile_period`` frames (and on the first), the tiles round-robin in between."""
        W, H = self.W, self.H
        found: list[tuple[np.ndarray, float]] = []
        first = self.t == 0 or not self.track  # nothing known yet: sweep everything
        if first or self._relook or self.t % self.tile_period == 0:
            for st in (1.0, *self.views):
                view = frame if st == 1.0 else self._view(frame, st, 0, 0, int(round(W * st)), H)
                for det in (self.full, self.short):
                    found += [(b / [st, 1, st, 1], sc, st) for b, sc in
                              self._boxes(det.process(view), view.shape[1], view.shape[0])]
        self._relook = False
        for box, _ in self._lost:  # a face lost lately: the full-range detector around its last box
            found += self._around(frame, box)
        sweep = []
        thumb = _thumbnail(frame) if self.sweep_changes and (self.tiles or self.coarse) else None
        if thumb is not None and self.follow_camera:
            self._follow(thumb)
        self._last_entering = []
        if self.tiles:  # the changed window takes the place of one tile of the round robin
            entering, changed = self._changed(thumb, self.tiles[0][2], first)
            picked, self._next_tile = _round_robin(self.tiles, self._next_tile, self.tiles_per_frame - len(changed),
                                                   first)
            sweep += entering + changed + picked
            self._last_entering += entering
        if self.coarse:
            entering, changed = self._changed(thumb, self.coarse[0][2], first)
            picked, self._next_coarse = _round_robin(self.coarse, self._next_coarse,
                                                     self.coarse_per_frame - len(changed), first)
            sweep += entering + changed + picked
            self._last_entering += entering
        if thumb is not None:
            self._look(thumb, sweep)
        if sweep:
            for x0, y0, s, st in sweep:
                tile = np.ascontiguousarray(frame[y0:y0 + s, x0:x0 + s]) if st == 1.0 else \
                    self._view(frame, st, x0, y0, s, s)
                found += [(b / [st, 1, st, 1], sc, st) for b, sc in
                          self._boxes(self.full.process(tile), tile.shape[1], tile.shape[0], x0, y0)]
        boxes = list(self.previous) + [b for b, _, _ in found]
        scores = [2.0] * len(self.previous) + [s for _, s, _ in found]
        # tracked faces first, then detections in the plain frame; a widened view's detection
        # only adds a face the plain views missed
        rank = [3.0] * len(self.previous) + [s + (1.0 if st == 1.0 else 0.0) for _, s, st in found]
        if not boxes:
            return np.zeros((0, 4)), np.zeros(0, bool)
        b = np.asarray(boxes, np.float64)
        keep = _nms(b, np.asarray(rank))
        self.last_scores = np.asarray(scores)[keep]
        return b[keep], np.where(keep < len(self.previous), keep, -1)

    def _changed(self, thumb: np.ndarray | None, side: int, first: bool) -> tuple[list, list]:
        """([the ``side`` px window on the strip a pan brought in, where it changed most], [the
        window where the frame changed most since that sweep looked there]); each [] when there is
        none (sweep off, first frame, no change of ``min_change`` grey levels; the second also on
        the frame after it was taken). Faces tracked from the previous frame do not count as change.
        The entering strip is looked at on every frame (an extra tile) until looked at once."""
        if thumb is None or first or side not in self._seen:
            self._went_to_change.discard(side)
            return [], []
        change = _unexplained_change(thumb, self._seen[side]) if self.shift_tolerant_change else \
            np.abs(thumb - self._seen[side])
        th, tw = change.shape
        for b in self.previous:  # the boxes of tracked faces, 1.5 times as large
            c, h = (b[:2] + b[2:]) / 2, 0.75 * (b[2:] - b[:2])
            x0, y0 = np.floor((c - h + 0.5) * [tw / self.W, th / self.H]).astype(int)
            x1, y1 = np.ceil((c + h + 0.5) * [tw / self.W, th / self.H]).astype(int)
            change[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = 0.0
        entering = []
        if side in self._entered and self._entered[side].any():
            peak = max(1, int(round(side / 8 / THUMB))) if self.strip_peaks else 0
            done = self._strip_done.setdefault(side, np.zeros((th, tw), bool)) if peak else None
            last = self._strip_last.pop(side, None)  # the window of the previous frame: not twice in a row
            at = _changed_window(change, self.W, self.H, side, self.min_change, only=self._entered[side],
                                 peak=peak, skip=None if done is None else done | last if last is not None else done)
            if at is None and done is not None and done.any():  # every blob had its look: again
                done[:] = False
                at = _changed_window(change, self.W, self.H, side, self.min_change, only=self._entered[side],
                                     peak=peak)
            if at is None:  # nothing there differs from the border it came in over
                self._entered[side][:] = False
                if done is not None:
                    done[:] = False
            else:
                entering.append((at[0], at[1], side, 1.0))
                if done is not None:  # the cells where a face of the sweep's size lay wholly in the tile
                    # (at a border the pan brings content in over on this frame, not the face-size band
                    # along it: a face cut there now is whole there on a later frame)
                    a0, b0 = ((peak if d > 0 else 0) if v <= 0 else int(np.floor(v * n / L)) + peak // 2
                              for v, n, L, d in ((at[0], tw, self.W, self._in[0]), (at[1], th, self.H, self._in[1])))
                    a1, b1 = ((n - peak if d < 0 else n) if v + side >= L else
                              int(np.ceil((v + side) * n / L)) - peak // 2
                              for v, n, L, d in ((at[0], tw, self.W, self._in[0]), (at[1], th, self.H, self._in[1])))
                    done[max(0, b0):max(0, b1), max(0, a0):max(0, a1)] = True
                    last = np.zeros_like(done)
                    a0, b0 = (0 if v <= 0 else int(np.floor(v * n / L)) + peak // 2
                              for v, n, L in ((at[0], tw, self.W), (at[1], th, self.H)))
                    a1, b1 = (n if v + side >= L else int(np.ceil((v + side) * n / L)) - peak // 2
                              for v, n, L in ((at[0], tw, self.W), (at[1], th, self.H)))
                    last[max(0, b0):max(0, b1), max(0, a0):max(0, a1)] = True
                    self._strip_last[side] = last
        if side in self._went_to_change:
            self._went_to_change.discard(side)  # the round robin keeps at least every other frame
            return entering, []
        at = _changed_window(change, self.W, self.H, side, self.min_change)
        if at is None:
            return entering, []
        self._went_to_change.add(side)
        return entering, [(at[0], at[1], side, 1.0)]

    def _follow(self, thumb: np.ndarray) -> None:
        """The sweeps' thumbnails move with the camera since the previous frame (whole cells; the
        remainder is carried to the next frame)."""
        import cv2

        self._moved = False
        self._in = np.zeros(2, int)
        if self._before is not None and self._before.shape == thumb.shape and self._seen:
            if self._hann is None:
                self._hann = cv2.createHanningWindow((thumb.shape[1], thumb.shape[0]), cv2.CV_32F)
            d = _camera_shift(self._before, thumb, self._hann)
            self._drift += d
            if self.strip_peaks and d.any() and len(self.previous):  # tracked faces move with the pan too
                self.previous = self.previous + np.tile(d * [self.W / thumb.shape[1], self.H / thumb.shape[0]], 2)
            n = np.round(self._drift).astype(int)
            if n.any():
                for side in self._seen:
                    self._seen[side] = _shifted(self._seen[side], int(n[0]), int(n[1]))
                    entered = self._entered.get(side, np.zeros(thumb.shape, bool)).astype(np.uint8)
                    self._entered[side] = cv2.warpAffine(
                        entered, np.array([[1.0, 0.0, float(n[0])], [0.0, 1.0, float(n[1])]]),
                        (thumb.shape[1], thumb.shape[0]), flags=cv2.INTER_NEAREST,
                        borderMode=cv2.BORDER_CONSTANT, borderValue=1) > 0
                    if side in self._strip_done:
                        self._strip_done[side] = cv2.warpAffine(
                            self._strip_done[side].astype(np.uint8),
                            np.array([[1.0, 0.0, float(n[0])], [0.0, 1.0, float(n[1])]]),
                            (thumb.shape[1], thumb.shape[0]), flags=cv2.INTER_NEAREST,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0
                self._drift -= n
                self._moved = True
                self._in = n
        self._before = thumb

    def _look(self, thumb: np.ndarray, sweep: list) -> None:
        """Each sweep's thumbnail takes the current content where it looked this frame (with
        ``strip_peaks``, while the camera moves, not within a face of the sweep's size of the frame's
        edge)."""
        th, tw = thumb.shape
        for side in {self.tiles[0][2] if self.tiles else None, self.coarse[0][2] if self.coarse else None} - {None}:
            seen = self._seen.setdefault(side, thumb.copy())
            for x0, y0, s, st in sweep:
                if s != side:
                    continue
                a0, a1 = int(round(x0 / st * tw / self.W)), int(round((x0 + s) / st * tw / self.W))
                b0, b1 = int(round(y0 * th / self.H)), int(round((y0 + s) * th / self.H))
                if self._moved and self.strip_peaks:  # a face of the sweep's size this near a border
                    e = max(1, int(round(side / 8 / THUMB)))  # the pan brings content in over may be
                    dx, dy = self._in  # cut by it: still new when whole
                    a0, a1 = max(a0, e if dx > 0 else 0), min(a1, tw - e if dx < 0 else tw)
                    b0, b1 = max(b0, e if dy > 0 else 0), min(b1, th - e if dy < 0 else th)
                seen[b0:b1, a0:a1] = thumb[b0:b1, a0:a1]
                if side in self._entered and not self._moved:  # while the camera moves, what
                    self._entered[side][b0:b1, a0:a1] = False  # came in may be cut by the border

    # -- mesh on an upscaled crop ---------------------------------------------------------------
    def mesh_at(self, frame: np.ndarray, box: np.ndarray, graph: Any = None,
                scale: float | None = None, stretch: float = 1.0) -> tuple[np.ndarray | None, str]:
        """Face Mesh on a square crop around ``box`` -> ((478, 3) full-frame landmarks or None, why).
        ``stretch`` > 1 widens the crop's content horizontally (a face turned away, narrowed by
        foreshortening, looks more frontal to Face Mesh's own detector); the landmarks are mapped
        back through the same affine map."""
        import cv2

        c = (box[:2] + box[2:]) / 2
        side = (scale or self.crop_scale) * max(box[2] - box[0], box[3] - box[1], 4.0)
        k = CROP_SIZE / side
        kx = k * float(stretch)
        origin = c - (CROP_SIZE - 1) / 2 / np.array([kx, k])  # full-frame point that lands on crop pixel (0, 0)
        M = np.array([[kx, 0.0, -kx * origin[0]], [0.0, k, -k * origin[1]]])
        crop = cv2.warpAffine(frame, M, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR if k >= 1 else cv2.INTER_AREA,
                              borderMode=cv2.BORDER_REPLICATE)
        res = (graph or self.mesh).process(np.ascontiguousarray(crop))
        if not res.multi_face_landmarks:
            return None, "none"
        lm = _normalized_to_pixels(res.multi_face_landmarks[0].landmark, CROP_SIZE, CROP_SIZE).astype(np.float64)
        if len(lm) != NUM_LANDMARKS:
            return None, "none"
        lm[:, :2] = lm[:, :2] / [kx, k] + origin
        lm[:, 2] /= k  # depth follows the face's true size (the vertical scale)
        return lm.astype(np.float32), "ok"

    def plausible(self, lm: np.ndarray, box: np.ndarray) -> str:
        """'ok', 'position' (mesh elsewhere than the candidate) or 'geometry' (not face-shaped)."""
        mb = _landmark_boxes(lm[:NUM_MESH])
        size_m = float(np.sqrt(max(mb[2] - mb[0], 1e-3) * max(mb[3] - mb[1], 1e-3)))
        size_b = float(np.sqrt(max(box[2] - box[0], 1e-3) * max(box[3] - box[1], 1e-3)))
        dc = np.linalg.norm((mb[:2] + mb[2:]) / 2 - (box[:2] + box[2:]) / 2)
        if dc > 0.75 * max(size_m, size_b) or not 0.5 <= size_m / size_b <= 2.0:
            return "position"
        # forehead-chin over cheek-cheek: rotation invariant in the image (a box's aspect is not)
        aspect = np.linalg.norm(lm[10, :2] - lm[152, :2]) / max(float(np.linalg.norm(lm[234, :2] - lm[454, :2])), 1e-3)
        if not 0.9 <= aspect <= 2.5:
            return "geometry"
        if self.model is not None and _reprojection_rms(lm, self.model) > self.max_reprojection * size_m:
            return "geometry"
        return "ok"

    def confirmed(self, frame: np.ndarray, lm: np.ndarray) -> bool:
        """A second look at a new face (not at a face continuing a track, nor one whose detection
        scored >= 0.8): a crop centred on the mesh, the face half its width,
        must be found by the full-range detector (score >= ``min_score``) or, failing that, by the
        short-range detector with score >= ``confirm_short``. Animal faces on spheres that fool
        one detector at one scale (short-range 0.51-0.70, full-range nothing on the ray-cast
        benchmark; true faces: full-range 0.69-0.95, short-range 0.86-0.94) are rejected here."""
        import cv2

        mb = _landmark_boxes(lm[:NUM_MESH])
        c = (mb[:2] + mb[2:]) / 2
        for context in self.confirm_scales:  # the face half the crop, then with more and less context
            k = CROP_SIZE / (context * max(float(np.max(mb[2:] - mb[:2])), 4.0))
            o = c - (CROP_SIZE - 1) / 2 / k
            crop = cv2.warpAffine(frame, np.array([[k, 0.0, -k * o[0]], [0.0, k, -k * o[1]]]),
                                  (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR if k >= 1 else cv2.INTER_AREA,
                                  borderMode=cv2.BORDER_REPLICATE)
            for det, need in ((self.full, self.min_score), (self.short, self.confirm_short)):
                for box, score in self._boxes(det.process(crop), CROP_SIZE, CROP_SIZE):
                    if score >= need and np.linalg.norm((box[:2] + box[2:]) / 2 - (CROP_SIZE - 1) / 2) < CROP_SIZE / 4:
                        return True
        return False

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        frame = np.ascontiguousarray(frame)
        faces: list[np.ndarray] = []
        boxes: list[np.ndarray] = []
        cand, source = self.candidates(frame)
        graphs: list[Any] = []
        for box, src, score in zip(cand, source, self.last_scores if len(cand) else []):
            cont = src >= 0
            # a continuing face keeps its own video-mode Face Mesh: it tracks the landmarks in the
            # re-centred crop without needing its detector to fire again (head lowered, turned)
            graph = self.graphs[src] if cont else None
            if len(faces) >= self.max_faces:
                break
            self.stats["candidates"] += 1
            if any(_iou(box, b) > 0.5 for b in boxes):
                continue
            lm, _ = self.mesh_at(frame, box, graph)
            if lm is None and graph is not None:
                lm, _ = self.mesh_at(frame, box)
            for stretch in self.stretches if lm is None else ():
                lm, _ = self.mesh_at(frame, box, stretch=stretch)
                if lm is not None:
                    self.stats["stretched"] += 1
                    break
            if lm is None:
                continue
            self.stats["meshes"] += 1
            why = self.plausible(lm, box)
            if why != "ok":
                self.stats[f"rejected_{why}"] += 1
                continue
            mb = _landmark_boxes(lm[:NUM_MESH])
            if any(_iou(mb, b) > 0.5 for b in boxes):
                continue
            if not cont and score < 0.8 and not self.confirmed(frame, lm):  # new faces only: a track was confirmed
                self.stats["rejected_unconfirmed"] += 1
                continue
            faces.append(lm)
            boxes.append(mb)
            if self.track:
                graphs.append(graph if graph is not None else self._video_mesh())
        kept = sum(1 for g in graphs if any(g is h for h in self.graphs))
        self._relook = kept < len(self.graphs)  # a tracked face was lost: look again at the whole frame
        lost = [(b, self.lost_frames) for g, b in zip(self.graphs, self.previous) if not any(g is h for h in graphs)]
        self._lost = [(b, n - 1) for b, n in self._lost + lost
                      if n > 1 and not any(_iou(b, m) > 0.2 for m in boxes)] if self.track else []
        for g in self.graphs:
            if not any(g is h for h in graphs):
                g.close()
        self.graphs = graphs
        self.previous = np.asarray(boxes).reshape(-1, 4) if self.track else np.zeros((0, 4))
        self.t += 1
        return np.stack(faces) if faces else np.zeros((0, NUM_LANDMARKS, 3), np.float32)


def _reprojection_rms(lm: np.ndarray, model: np.ndarray) -> float:
    """RMS (px) of the 468 landmarks against the 3D face model under the best perspective pose
    (PnP with a focal length of 1.2 face-image widths' worth: relative geometry only)."""
    import cv2

    xy = np.ascontiguousarray(lm[:NUM_MESH, :2], np.float64)
    c = xy.mean(axis=0)
    w = float(np.ptp(xy[:, 0])) + 1.0
    f = 20.0 * w  # a weak-perspective-like camera: the shape test should not depend on the unknown K
    K = np.array([[f, 0, c[0]], [0, f, c[1]], [0, 0, 1.0]])
    obj = np.ascontiguousarray(model[:NUM_MESH], np.float64)
    try:
        ok, rvec, tvec = cv2.solvePnP(obj, xy, K, None, flags=cv2.SOLVEPNP_SQPNP)
        if not ok:
            return float("inf")
        proj, _ = cv2.projectPoints(obj, rvec, tvec, K, None)
    except cv2.error:
        return float("inf")
    return float(np.sqrt(np.mean(np.sum((proj[:, 0] - xy) ** 2, axis=1))))
