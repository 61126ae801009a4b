"""WSGI entry point, for hosts without ASGI (live status then falls back to polling)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storyboard.settings")

application = get_wsgi_application()
