"""The provider seam: pick the configured API style and talk to it."""

import tempfile

import httpx
from django.conf import settings

from .ark import ArkStyle
from .base import GenerationRequest, Image, ProviderError, RemoteTask, TaskState

__all__ = [
    "GenerationRequest",
    "Image",
    "ProviderError",
    "RemoteTask",
    "TaskState",
    "download",
    "get_client",
    "simulator_url",
    "typical_seconds",
]

STYLES = {style.name: style for style in (ArkStyle,)}


def simulator_url():
    return f"http://127.0.0.1:{settings.SIMULATOR_PORT}"


def typical_seconds(duration):
    """How long a clip of `duration` seconds takes to generate, before any was measured."""
    if not settings.SEEDANCE_BASE_URL:
        return settings.SIMULATOR_DELAY
    return 30.0 * duration  # tasks take 1-5 minutes for 5-15 s clips


def get_client(provider=""):
    """The client for a project's provider ('' is the one this server is configured for)."""
    style = STYLES.get(settings.SEEDANCE_API_STYLE)
    if style is None:
        raise ProviderError(
            f"SEEDANCE_API_STYLE={settings.SEEDANCE_API_STYLE!r} is not one of "
            f"{', '.join(sorted(STYLES))}",
            permanent=True,
        )
    if settings.SEEDANCE_BASE_URL and not settings.SEEDANCE_API_KEY:
        raise ProviderError(
            f"SEEDANCE_API_KEY is not set, and {settings.SEEDANCE_BASE_URL} needs one.",
            permanent=True,
        )
    base_url = settings.SEEDANCE_BASE_URL or f"{simulator_url()}/api/v3"
    api_key = settings.SEEDANCE_API_KEY or "simulator"
    http = httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0))
    return style(base_url, api_key, http)


def download(url, suffix=""):
    """Fetch a result file into a temporary file and return it, rewound.

    Signed result URLs refuse an Authorization header, so none is sent.
    """
    out = tempfile.NamedTemporaryFile(suffix=suffix)
    try:
        with httpx.stream("GET", url, timeout=httpx.Timeout(60.0), follow_redirects=True) as r:
            if r.status_code >= 400:
                raise ProviderError(f"Downloading {url.split('?')[0]} failed: HTTP {r.status_code}")
            for chunk in r.iter_bytes(1 << 16):
                out.write(chunk)
    except httpx.HTTPError as exc:
        out.close()
        raise ProviderError(f"Downloading {url.split('?')[0]} failed: {exc}") from exc
    except ProviderError:
        out.close()
        raise
    out.seek(0)
    return out
