"""What the project's own management commands share."""

from django.core.management.base import BaseCommand


class DataCommand(BaseCommand):
    """A command on the data, as loaddata and createsuperuser are: it runs no system
    checks, which would import every view for the URL checks (half a second a run).
    `check`, `migrate` and `up` still run them all."""

    requires_system_checks = []
