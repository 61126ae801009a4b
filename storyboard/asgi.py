"""ASGI entry point: the app is served by uvicorn so server-sent events can stream."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storyboard.settings")

application = get_asgi_application()
