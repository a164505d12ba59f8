"""The processes of a running stack, as data, and the registry other apps extend.

`python -m oms_site.run` starts the web server, a Celery worker for the shared queues and
Celery beat itself; every other long-running process (the market feed, one worker per
exchange shard, ...) is contributed by the app that owns it, from its `AppConfig.ready()`:

    from oms_site.run_registry import ProcessSpec, celery_worker, register_process

    @register_process
    def exchange_shard_workers(env):
        return [
            celery_worker(name=f"shard{n}", queues=[f"exchange.shard.{n}"], concurrency=1)
            for n in range(int(env.get("OMS_EXCHANGE_SHARDS", "2")))
        ]

A factory receives the children's environment (a mapping of strings) and returns an
iterable of `ProcessSpec`s (empty when it has nothing to start in that environment).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from oms_site.registry import Registry

# Kinds the supervisor knows about; the run command reports a missing "feed" explicitly.
KIND_INFRA = "infra"  # started first, stopped last (the embedded Redis)
KIND_WEB = "web"
KIND_WORKER = "worker"
KIND_BEAT = "beat"
KIND_FEED = "feed"
KIND_OTHER = "other"


@dataclass(frozen=True)
class ProcessSpec:
    """One child of the supervisor: a name for its log prefix and reports, and a command."""

    name: str
    argv: tuple[str, ...]
    kind: str = KIND_OTHER
    env: Mapping[str, str] = field(default_factory=dict)  # added to the stack's environment

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"process name must be alphanumeric (with - or _): {self.name!r}")
        if not self.argv:
            raise ValueError(f"process {self.name!r} has an empty command")
        object.__setattr__(self, "argv", tuple(str(arg) for arg in self.argv))


SpecFactory = Callable[[Mapping[str, str]], Iterable[ProcessSpec]]

# Keyed by the factory itself: registering the same factory twice is a no-op.
PROCESS_FACTORIES: Registry[SpecFactory] = Registry("process factory")


def register_process(factory: SpecFactory) -> SpecFactory:
    """Add a factory of extra stack processes; registering the same factory twice is a no-op.

    Usable as a decorator. Call it from `AppConfig.ready()` (or import a module that does).
    """
    return PROCESS_FACTORIES.register(factory, factory)


def unregister_process(factory: SpecFactory) -> None:
    """Remove a factory (tests use this to leave the registry as they found it)."""
    PROCESS_FACTORIES.unregister(factory)


def registered_processes(env: Mapping[str, str]) -> list[ProcessSpec]:
    """Every process contributed by the registered factories for this environment."""
    specs: list[ProcessSpec] = []
    for factory in PROCESS_FACTORIES.values():
        specs.extend(factory(env) or ())
    return specs


def python_command(*args: str) -> tuple[str, ...]:
    """A command run by this interpreter (the project's virtualenv), e.g. manage.py calls."""
    return (sys.executable, *args)


def manage_py(name: str, *args: str, kind: str = KIND_OTHER) -> ProcessSpec:
    """A `manage.py <command>` child, e.g. `manage_py("feed", "run_feed", "--source", "sim")`."""
    return ProcessSpec(name=name, argv=python_command("manage.py", *args), kind=kind)


def celery_worker(
    *,
    name: str,
    queues: Iterable[str],
    concurrency: int,
    pool: str = "prefork",
    loglevel: str = "INFO",
) -> ProcessSpec:
    """A Celery worker consuming `queues`; its node name is `<name>@<host>` (unique per name).

    A worker that must be the single consumer of its queue (an exchange shard) uses
    `concurrency=1` and pool "solo", so one process handles one message at a time.
    """
    queue_list = ",".join(queues)
    if not queue_list:
        raise ValueError(f"worker {name!r} consumes no queue")
    if concurrency < 1:
        raise ValueError(f"worker {name!r} needs a concurrency >= 1, got {concurrency}")
    return ProcessSpec(
        name=name,
        kind=KIND_WORKER,
        argv=python_command(
            "-m",
            "celery",
            "-A",
            "oms_site",
            "worker",
            "--loglevel",
            loglevel,
            "-Q",
            queue_list,
            "--concurrency",
            str(concurrency),
            "--pool",
            pool,
            "-n",
            f"{name}@%h",
            # No peer syncing at start-up (mingle) and no heartbeat chatter (gossip): workers
            # here share nothing but the broker, and mingle costs a second of start-up.
            "--without-mingle",
            "--without-gossip",
        ),
    )
