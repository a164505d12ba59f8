"""`python manage.py run_fake_broker alpaca|kite --port N`: serve a loopback fake of that
broker's documented wire protocol, its fills priced from OMS's latest quotes."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from execution.fakes import FAKE_SERVERS, fake_server_runner, marketdata_quote_source


class Command(BaseCommand):
    help = "Serve a loopback fake of a real broker (for demos and tests)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("broker", choices=sorted(FAKE_SERVERS))
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--key-id", default="", help="Credentials the fake accepts.")
        parser.add_argument("--secret-key", default="", help="Credentials the fake accepts.")
        parser.add_argument(
            "--quote-poll", type=float, default=1.0, help="Seconds between quote checks."
        )

    def handle(self, *args, **options) -> None:
        broker = options["broker"]
        if not 0 < options["port"] < 65536:
            raise CommandError("--port must be between 1 and 65535")
        runner = fake_server_runner(broker)
        runner(
            port=options["port"],
            quote_source=marketdata_quote_source(broker),
            options={
                "key_id": options["key_id"],
                "secret_key": options["secret_key"],
                "quote_poll_s": options["quote_poll"],
            },
        )
