"""Garbage-collector settings for the long-running web process (called by oms_site/asgi.py).

A web process holding thousands of live streams keeps hundreds of thousands of objects alive
(Django's own, every stream's consumer, socket and protocol state). CPython's cyclic
collector walks all of them in a full (generation 2) collection, and with its default
thresholds (700, 10, 10) it ran one in the middle of a burst of pushes: a 0.2-0.7 s pause of
the event loop, every stream's pushes waiting behind it (measured with bench/ws_fanout.py).
Two changes, neither of which lets garbage accumulate (reference counting still frees
nearly everything at once; cycles are still collected):
- `gc.freeze()` once the application is loaded: the objects of the import and set-up phase
  (modules, classes, Django's registries) live as long as the process, so they are moved
  out of the collector's generations and no full collection walks them again.
- a larger first-generation threshold, so the young-object collections that promote into
  the old generations run a tenth as often.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 7000


def tune_gc_for_server() -> None:
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
