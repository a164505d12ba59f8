"""`python manage.py run_fake_broker kite --port N`: a broker's loopback wire-protocol fake."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from execution.fakes import FAKE_SERVERS


class Command(BaseCommand):
    help = "Serve a loopback fake of a real broker's documented protocol (demos and tests)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("broker", choices=sorted(FAKE_SERVERS))
        parser.add_argument("--port", type=int, required=True)

    def handle(self, *args, broker: str, port: int, **options) -> None:
        FAKE_SERVERS[broker](port=port)
