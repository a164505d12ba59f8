"""pnl's own live push of a booked fill: `fill.created` on the `fills` channel, in the REST
shape of pnl's FillSerializer. Published through the publisher registered in pnl/registry.py,
or added to the caller's batch (the report burst that booked the fill sends its pushes
together, in order, on commit)."""

from __future__ import annotations

from typing import Any, Protocol

from oms_site.representation import represent
from pnl import registry
from pnl.models import Fill
from pnl.serializers import FillSerializer

FILLS_CHANNEL = "fills"


class PushBatch(Protocol):
    """A batch of pushes sent together on commit (notifications.services.PublishBatch)."""

    def add(self, *, channel: str, event: str, data: Any, account_id: Any) -> None: ...


def fill_publish(fill: Fill, *, batch: PushBatch | None = None) -> None:
    """`fill.created` with the fill; with `batch`, sent with the batch."""
    publisher = batch.add if batch is not None else registry.position_publisher()
    if publisher is None:
        return
    publisher(
        channel=FILLS_CHANNEL,
        event="fill.created",
        data=represent(FillSerializer, fill),
        account_id=fill.account_id,
    )
