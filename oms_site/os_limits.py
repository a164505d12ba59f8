"""Operating-system limits the stack needs, raised where a process may raise them itself.

Open files: every live-stream connection is a file descriptor in the web process (and the
Redis client, the database and the logs need some too). Many systems start processes with
a soft limit of 1,024, which caps /ws/stream/ at roughly a thousand clients; the soft limit
may be raised up to the hard limit without privileges, and children inherit it. Beyond the
hard limit: `ulimit -Hn` / `LimitNOFILE=` (systemd) / `nofile` in limits.conf.
"""

from __future__ import annotations

import resource

# What 5,000 live connections plus everything else of the web process need, with room.
OPEN_FILES_WANTED = 16_384


def raise_open_files_limit(wanted: int = OPEN_FILES_WANTED) -> tuple[int, int]:
    """Raise the soft open-files limit towards `wanted` (never above the hard limit, never
    lowered); → the (soft, hard) limits now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)
