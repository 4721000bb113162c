"""Many photos at once: ``blur4d batch`` / :func:`blur4d.batch`, resumable, on a local process
pool (default) or a Ray cluster.

Layers: ``items`` (inputs, ids, hashes) and ``table`` (batch.jsonl, summary.csv) are plain data;
``worker`` runs one item through the single verb's own code; ``local`` and ``ray_engine`` schedule
items; ``gallery`` writes index.html; ``run`` is the driver. Ray loads only for ``engine="ray"``.
"""

from __future__ import annotations

from .items import OUT_NAMES, VERBS
from .run import ENGINES, batch, summary_line

__all__ = ["batch", "summary_line", "VERBS", "OUT_NAMES", "ENGINES"]
