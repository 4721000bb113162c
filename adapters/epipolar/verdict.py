"""The clip-level verdict from the per-pair records."""

from __future__ import annotations

from typing import Any

import numpy as np

from .config import EpipolarConfig


def _parallax_growth(rig: list[dict[str, Any]], frames: list[int] | None = None) -> dict[str, float] | None:
    """Does the parallax grow with the pairs' motion, as a rigid scene's must? A rigid scene's
    parallax after the best homography is proportional to the baseline, so wide pairs show it
    several times larger than consecutive ones; a time-local, non-rigid residual (a generator's
    per-tile motion, rolling deformation) is as large over one frame as over the whole clip.

    -> None when it cannot be judged (no consecutive pairs that show parallax, or no pair with
    at least ``3x`` their motion), else ``ratio`` (the wide pairs' parallax beyond the noise
    (90th-percentile residual after the homography less its noise floor) over the one the
    consecutive pairs' parallax per pixel of motion predicts; ~1 for a rigid scene), and the
    medians it came from. ``frames``: the analysed frames (default: those of ``rig``); the short
    pairs are those of neighbouring analysed frames (j - i = 1, or the next key frame when the
    clip was analysed on key frames).""" 
    def excess(r: dict[str, Any]) -> float:  # the p90 residual beyond its noise floor (2D p90: 2.15 sigma)
        return max(float(r.get("parallax_p90_px", 0.0)) - 2.15 * float(r.get("noise_sigma_px", 0.0)), 0.0)

    keys = sorted(set(frames) if frames is not None else {k for r in rig for k in (r["i"], r["j"])})
    nxt = dict(zip(keys[:-1], keys[1:]))
    short = [r for r in rig if nxt.get(r["i"]) == r["j"] and r["displacement_p90_px"] > 0]
    if len(short) < 2 or float(np.median([r.get("parallax_evidence", 0.0) for r in short])) < 0.5:
        return None
    m_s = float(np.median([r["displacement_p90_px"] for r in short]))
    rate = float(np.median([excess(r) / r["displacement_p90_px"] for r in short]))
    wide = [r for r in rig if r["displacement_p90_px"] >= 3.0 * m_s]
    if not wide or rate <= 0:
        return None
    ratio = float(np.median([excess(r) / (rate * r["displacement_p90_px"]) for r in wide]))
    return {"ratio": ratio, "short_excess_px": float(np.median([excess(r) for r in short])), "short_motion_px": m_s,
            "wide_excess_px": float(np.median([excess(r) for r in wide])),
            "wide_motion_px": float(np.median([r["displacement_p90_px"] for r in wide]))}


def _verdict(records: list[dict[str, Any]], cfg: EpipolarConfig) -> tuple[str, float, str, dict[str, Any]]:
    ok = [r for r in records if r["ok"]]
    labels = [r["label"] for r in records]
    counts = {v: labels.count(v) for v in ("homography", "parallax", "independent motion", "insufficient texture")}
    summary: dict[str, Any] = {"pair_labels": counts, "pairs_ok": len(ok)}
    fl = records[0] if records else None  # first-last is always the first pair
    if not ok or (fl is not None and not fl["ok"] and len(ok) < 0.5 * len(records)):
        bad = 1.0 - len(ok) / max(len(records), 1)
        med = int(np.median([r["matches"] for r in records])) if records else 0
        why = fl["reason"] if fl is not None else "no pairs"
        return ("insufficient texture", float(np.clip(0.5 + 0.5 * bad, 0, 1)),
                f"{len(records) - len(ok)}/{len(records)} pairs unusable (median {med} matches); first-last: {why}",
                summary)
    w = np.array([max(r.get("vote", r["weight"]), 1e-3) for r in ok])
    lab = np.array([r["label"] for r in ok])
    share = {v: float(w[lab == v].sum() / w.sum()) for v in ("homography", "parallax", "independent motion")}
    summary["weighted_share"] = {k: round(v, 4) for k, v in share.items()}
    motion = max(r["displacement_p90_px"] for r in ok)
    summary["max_displacement_p90_px"] = round(motion, 3)
    strength = float(np.clip(max(r["weight"] for r in ok), 0.0, 1.0))
    summary["evidence_strength"] = round(strength, 4)
    weak = strength < 0.5
    weak_note = (f"; evidence too weak: matches move at most {motion:.2f} px (p90), parallax below the noise "
                 "cannot be excluded") if weak else ""

    im = [r for r in ok if r["label"] == "independent motion"]
    # a moving object shows in a quarter of the (vote-weighted) pairs or of the pairs themselves: a
    # clip can have both parallax (seen best in wide pairs) and a mover (seen in every pair)
    im_share = max(share["independent motion"], len(im) / len(ok))
    if im and im_share >= 0.25:
        best = max(im, key=lambda r: r["moving_points"])
        conf = (min(1.0, im_share / 0.5) * (0.5 + 0.5 * min(1.0, best["moving_points"] / 40))
                * (0.5 + 0.5 * min(1.0, len(im) / (0.25 * len(ok)))))  # seen in a quarter of the pairs
        return ("independent motion", conf,
                f"{len(im)}/{len(ok)} pairs show independently moving content (e.g. frames {best['i']}-{best['j']}: "
                f"{best['reason']})", summary)
    # rigid pairs vote with their parallax evidence in [0, 1] (not a hard label), weighted by how
    # much they move: a pair whose evidence is ambiguous pulls the verdict's confidence down
    rig = [r for r in ok if r["label"] != "independent motion"]
    wr = np.array([max(r.get("vote", r["weight"]), 1e-3) for r in rig])
    ev = np.array([float(r.get("parallax_evidence", 1.0 if r["label"] == "parallax" else 0.0)) for r in rig])
    p = float((wr * ev).sum() / wr.sum()) if len(rig) else 0.0
    summary["parallax_evidence"] = round(p, 4)
    clarity = float(abs(2 * p - 1))  # 0: evenly split evidence, 1: unanimous
    noise = float(np.median([r["noise_sigma_px"] for r in rig])) if rig else float("nan")
    summary["keypoint_noise_px"] = round(noise, 4) if np.isfinite(noise) else None
    if p >= 0.5:
        conf = (0.5 + 0.5 * clarity) * (0.4 + 0.6 * strength)
        par = [r for r in rig if r["label"] == "parallax"] or rig
        pp = max(r["parallax_p90_px"] for r in par)
        fr = float(np.median([r.get("along_fraction", 0.5) for r in par]))
        growth = _parallax_growth(rig, [k for r in records for k in (r["i"], r["j"])])
        if growth is not None:
            summary["parallax_growth"] = {k: round(v, 4) for k, v in growth.items()}
        if growth is not None and growth["ratio"] < cfg.min_growth:
            # as large over one frame as over the clip: not a rigid scene's parallax, whose depth
            # the cameras could not recover either (they may call it rotation or undetermined)
            conf = min(conf, 0.4 * growth["ratio"] / cfg.min_growth)
            return ("parallax", conf,
                    f"residuals after the best homography run along the epipolar lines ({100 * fr:.0f}% of the "
                    f"inliers; weighted evidence {p:.2f}) but do not grow with the baseline: "
                    f"{growth['short_excess_px']:.2f} px beyond the noise over consecutive pairs moving "
                    f"{growth['short_motion_px']:.1f} px, {growth['wide_excess_px']:.2f} px over pairs moving "
                    f"{growth['wide_motion_px']:.1f} px ({growth['ratio']:.2f} of what a rigid scene's parallax "
                    "would show): a non-rigid, time-local motion (e.g. a generator's per-region motion), not "
                    f"recoverable 3D structure; low confidence{weak_note}", summary)
        return ("parallax", conf,
                f"the residuals after the best homography run along the epipolar lines ({100 * fr:.0f}% of the "
                f"inliers, median over parallax pairs; weighted evidence {p:.2f}), up to {pp:.1f} px (p90) against "
                f"{noise:.2f} px keypoint noise: 3D structure is recoverable{weak_note}", summary)
    conf = (0.5 + 0.5 * clarity) * (0.3 + 0.7 * strength)
    hr = float(np.median([r["inlier_ratio_H"] for r in ok]))
    return ("homography", conf,
            f"one homography per pair explains the rigid scene ({100 * hr:.0f}% inliers, median over pairs); the "
            f"residuals are keypoint noise ({noise:.2f} px, as large across the epipolar lines as along them; "
            f"weighted parallax evidence {p:.2f}): pure rotation, a planar scene or no baseline; no depth "
            f"recoverable{weak_note}", summary)


def _reference_pair(records: list[dict[str, Any]], pairs: list[tuple[int, int]],
                    verdict: str) -> tuple[int, int] | None:
    """The pair the figures show: first-last when it agrees with the verdict, else the pair
    with the verdict's label and the most evidence, else first-last or the best usable pair."""
    if records and records[0]["ok"] and records[0]["label"] == verdict:
        return pairs[0]
    agree = [(r["weight"], r.get("moving_points", 0), (r["i"], r["j"])) for r in records
             if r["ok"] and r["label"] == verdict]
    if agree:
        return max(agree)[2]
    if records and records[0]["ok"]:
        return pairs[0]
    ok = [(r["weight"], (r["i"], r["j"])) for r in records if r["ok"]]
    return max(ok)[1] if ok else None
