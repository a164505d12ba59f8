"""Back-office views of the venues' own records: read-only (venues write them, not people)."""

from django.contrib import admin

from execution.models import ShardLease, VenueCommand, VenueFill, VenueOrder, VenueReport


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(VenueOrder)
class VenueOrderAdmin(ReadOnlyAdmin):
    list_display = (
        "order_id",
        "venue",
        "symbol",
        "side",
        "type",
        "qty",
        "filled_qty",
        "limit_price",
        "status",
        "updated_at",
    )
    list_filter = ("venue", "status", "side", "type")
    search_fields = ("order_id", "account_id", "symbol")


@admin.register(VenueFill)
class VenueFillAdmin(ReadOnlyAdmin):
    list_display = ("id", "venue", "symbol", "side", "qty", "price", "fee", "liquidity", "ts")
    list_filter = ("venue", "liquidity", "side")
    search_fields = ("order_id", "account_id", "symbol", "trade_id")


@admin.register(VenueReport)
class VenueReportAdmin(ReadOnlyAdmin):
    list_display = ("report_id", "venue", "order_id", "type", "created_at")
    list_filter = ("venue", "type")
    search_fields = ("report_id", "order_id")


@admin.register(VenueCommand)
class VenueCommandAdmin(ReadOnlyAdmin):
    list_display = ("id", "shard", "symbol", "kind", "order_id", "status", "result", "created_at")
    list_filter = ("status", "kind", "shard")
    search_fields = ("id", "order_id", "symbol")


@admin.register(ShardLease)
class ShardLeaseAdmin(ReadOnlyAdmin):
    list_display = ("shard", "owner", "fencing_token", "heartbeat_at", "acquired_at")
