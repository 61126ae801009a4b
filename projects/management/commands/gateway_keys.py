"""`gateway_keys rotate`: seal every team's gateway key again with the first key of
GATEWAY_KEYS_SECRET, so the old one can be dropped from it."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from projects import vault
from projects.models import Connection


class Command(BaseCommand):
    help = "Seal every gateway connection's key again with GATEWAY_KEYS_SECRET's first key."
    # A command on the data, as loaddata and createsuperuser are: no system checks, which
    # would import every view for the URL checks (half a second of each run).
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["rotate"])

    def handle(self, *args, action, **options):
        count = 0
        with transaction.atomic():
            for connection in Connection.objects.select_for_update():
                try:
                    connection.sealed_key = vault.reseal(connection.sealed_key)
                except vault.Unreadable as error:
                    message = f"{connection.name} (team {connection.team_id}): {error}"
                    raise CommandError(message) from None
                connection.save(update_fields=["sealed_key"])
                count += 1
        self.stdout.write(f"Sealed {count} key(s) again with the first key.")
