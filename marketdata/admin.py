"""Back office for market data: exchanges and their holidays, instruments (with CSV import),
and read-only quotes and bars."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.admin import AuditedAdmin, OmsAdminAccess
from accounts.services import audit_log_record
from marketdata import services
from marketdata.calendar import maintained_calendar_known
from marketdata.forms import InstrumentCsvImportForm
from marketdata.models import Bar, Exchange, ExchangeHoliday, Instrument, Quote


class ExchangeHolidayInline(admin.TabularInline):
    model = ExchangeHoliday
    extra = 1


@admin.register(Exchange)
class ExchangeAdmin(AuditedAdmin):
    list_display = (
        "code",
        "name",
        "timezone",
        "open_time",
        "close_time",
        "always_open",
        "holiday_calendar",
        "calendar_known",
    )
    inlines = [ExchangeHolidayInline]

    @admin.display(boolean=True, description="Maintained calendar found")
    def calendar_known(self, obj: Exchange) -> bool | None:
        if not obj.holiday_calendar:
            return None
        return maintained_calendar_known(obj.holiday_calendar)


@admin.register(ExchangeHoliday)
class ExchangeHolidayAdmin(AuditedAdmin):
    list_display = ("exchange", "date", "name")
    list_filter = ("exchange",)
    date_hierarchy = "date"


@admin.register(Instrument)
class InstrumentAdmin(AuditedAdmin):
    list_display = (
        "symbol",
        "exchange",
        "name",
        "currency",
        "tick_size",
        "lot_size",
        "price_band_pct",
        "tradable",
        "simulate",
    )
    list_filter = ("exchange", "tradable", "simulate")
    search_fields = ("symbol", "name")
    change_list_template = "marketdata/admin/instrument_changelist.html"

    def get_urls(self):
        extra = [
            path(
                "import-csv/",
                self.admin_site.admin_view(self.import_csv),
                name="marketdata_instrument_import_csv",
            )
        ]
        return extra + super().get_urls()

    def import_csv(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request) or not self.has_change_permission(request):
            raise PermissionDenied
        report = None
        if request.method == "POST":
            form = InstrumentCsvImportForm(request.POST, request.FILES)
            if form.is_valid():
                report = services.instruments_import_csv(text=form.cleaned_data["file"])
                if report.ok:
                    audit_log_record(
                        actor=request.user,
                        action="instrument.import_csv",
                        obj=request.user,
                        data={"created": report.created, "updated": report.updated},
                    )
                    messages.success(
                        request,
                        f"Imported {len(report.created)} new and updated "
                        f"{len(report.updated)} instruments.",
                    )
                    return HttpResponseRedirect(reverse("admin:marketdata_instrument_changelist"))
        else:
            form = InstrumentCsvImportForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import instruments from CSV",
            "form": form,
            "report": report,
        }
        return TemplateResponse(request, "marketdata/admin/instrument_import.html", context)


class ReadOnlyAdmin(OmsAdminAccess, admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Quote)
class QuoteAdmin(ReadOnlyAdmin):
    list_display = ("symbol", "last", "bid", "ask", "volume", "prev_close", "ts", "updated_at")
    search_fields = ("symbol",)


@admin.register(Bar)
class BarAdmin(ReadOnlyAdmin):
    list_display = ("instrument", "ts", "open", "high", "low", "close", "volume")
    list_filter = ("instrument",)
    date_hierarchy = "ts"
    list_select_related = ("instrument",)
    show_full_result_count = False
