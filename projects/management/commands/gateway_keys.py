"""`gateway_keys rotate`: seal every team's gateway key again with the first key of
GATEWAY_KEYS_SECRET, so the old one can be dropped from it."""

from django.core.management.base import CommandError
from django.db import transaction

from projects import vault
from projects.management.base import DataCommand
from projects.models import Connection


class Command(DataCommand):
    help = "Seal every gateway connection's key again with GATEWAY_KEYS_SECRET's first key."

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
