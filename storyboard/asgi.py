"""ASGI entry point: the app is served by uvicorn so server-sent events can stream."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storyboard.settings")

django_application = get_asgi_application()

# Imported once the apps are loaded, which they need.
from projects.checks import refuse_development_key  # noqa: E402
from projects.uploads import BodyLimit  # noqa: E402
from projects.warmup import warm_up  # noqa: E402

# Servers run no system checks: refuse here, as `check` does, the development key for
# other hosts.
refuse_development_key()
# Ready before the first request: after a restart, every open page reconnects at once.
warm_up()
# A body too large for any form is refused before Django reads it to a temporary file.
application = BodyLimit(django_application)
