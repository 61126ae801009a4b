"""WSGI entry point, for hosts without ASGI (live status then falls back to polling)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storyboard.settings")

application = get_wsgi_application()

# Servers run no system checks: refuse here, as `check` does, the development key for
# other hosts.
from projects.checks import refuse_development_key  # noqa: E402 (needs the apps loaded)

refuse_development_key()
