"""This process's loop for sending live pushes from sync code (`notifications.services`).

Sends run on one long-lived event loop thread (`oms_site.loop_thread.LoopThread`: why one
loop, and how it is restarted in a forked child) instead of a fresh loop per
`async_to_sync` call, so the channel layer reuses its connections. The caller still waits for
each send (`push_loop.run`), so pushes keep their order and a caller (or a test) that reads
the layer next sees the message; a send that fails or outlasts the timeout raises.
"""

from __future__ import annotations

from oms_site.loop_thread import LoopThread

push_loop = LoopThread(name="oms-push")
