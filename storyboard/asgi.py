"""ASGI entry point: the app is served by uvicorn so server-sent events can stream."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storyboard.settings")

application = get_asgi_application()

# Servers run no system checks: refuse here, as `check` does, the development key for
# other hosts.
from projects.checks import refuse_development_key  # noqa: E402 (needs the apps loaded)

refuse_development_key()
