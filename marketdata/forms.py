from __future__ import annotations

from django import forms

MAX_CSV_BYTES = 2 * 1024 * 1024


class InstrumentCsvImportForm(forms.Form):
    file = forms.FileField(
        help_text=(
            "CSV with a header row. Required columns: symbol, exchange. Optional: name, currency,"
            " tick_size, lot_size, price_band_pct, tradable, simulate, sim_start_price."
        )
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_CSV_BYTES:
            raise forms.ValidationError("The file is larger than 2 MB.")
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError("The file must be UTF-8 text.") from exc
