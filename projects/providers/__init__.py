"""The provider seam: which provider this server uses, and a client for its API style."""

import os
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from multiprocessing.util import Finalize

import httpx
from django.conf import settings

from .. import tls
from ..addresses import is_internal
from .ark import ArkStyle
from .base import (
    SEED_PROBLEM,
    SEEDS,
    Found,
    GenerationRequest,
    Image,
    LostCreate,
    ProviderError,
    RemoteTask,
    TaskState,
)
from .dieyuyun import DieyuyunStyle
from .futurmix import FuturmixStyle
from .openai_videos import OpenAIVideosStyle
from .presets import PRESETS, Preset
from .style import FAST_MODELS
from .wisgate import WisgateStyle

__all__ = [
    "PRESETS",
    "STYLES",
    "Found",
    "GenerationRequest",
    "Image",
    "LostCreate",
    "MAX_IMAGE_BYTES",
    "Preset",
    "ProviderError",
    "RemoteTask",
    "SEEDS",
    "SEED_PROBLEM",
    "TaskState",
    "close_clients",
    "configured",
    "connected",
    "deployment",
    "default_model",
    "draft_settings",
    "get_client",
    "internal_refusal",
    "model_choices",
    "ratio_help",
    "simulator_url",
    "takes_any_model",
    "typical_seconds",
    "using",
]

STYLES = {
    style.name: style
    for style in (ArkStyle, DieyuyunStyle, WisgateStyle, OpenAIVideosStyle, FuturmixStyle)
}
# Stored images (uploads, last frames) are kept within what every style accepts.
MAX_IMAGE_BYTES = min(style.max_image_bytes for style in STYLES.values())
# Where each style lives on the local simulator, which serves them all on one port.
SIMULATOR_PREFIXES = {
    "ark": "/api/v3",
    "dieyuyun": "/dieyuyun",
    "wisgate": "/wisgate",
    "openai-videos": "/openai-videos",
    "futurmix": "/futurmix/v1",
}


@dataclass(frozen=True)
class Provider:
    """The provider this server talks to, resolved from its settings."""

    name: str
    style: type
    base_url: str
    api_key: str = field(repr=False)  # never in a log line or a traceback's locals
    model: str
    simulated: bool
    headers: dict = field(default_factory=dict)
    rpm: int | None = None
    concurrency: int | None = None
    daily: int | None = None
    # Whether its API lists tasks: the style's, unless the preset's document shows none.
    lists: bool = True
    # The model ids it offers: its preset's, else its style's.
    models: tuple = ()
    # A team's own gateway connection (its limits are its own, not SEEDANCE_*'s).
    connection: bool = False
    # Why nothing new is sent through it now (its key was refused), '' while it works.
    paused: str = ""

    @property
    def may_be_internal(self):
        """Whether its address may lie inside this network: the deployment's own gateway
        (the operator's choice, the simulator's), a team's only with GATEWAYS_ALLOW_INTERNAL."""
        return not self.connection or settings.GATEWAYS_ALLOW_INTERNAL

    def reachable(self):
        """Itself, once its host is resolved and found outside this network; else a
        ProviderError, before any request carries its key there. A team's connection
        is checked each time a client is handed out, so a name that moved inside since
        it was saved is refused as well. (A name that does not resolve fails on its own.)"""
        if self.may_be_internal:
            return self
        host = httpx.URL(self.base_url).host
        if is_internal(host):
            raise ProviderError(internal_refusal(host), permanent=True)
        return self

    def client(self):
        # Well inside the pipeline's lease, so a slow call never looks like a dead worker.
        seconds = settings.PIPELINE_LEASE_SECONDS / 3
        http = httpx.Client(
            timeout=httpx.Timeout(seconds, connect=min(10.0, seconds)), verify=tls.context()
        )
        return self.style(
            self.base_url,
            self.api_key,
            http,
            headers=self.headers,
            max_download_bytes=settings.SEEDANCE_MAX_DOWNLOAD_BYTES,
            download_seconds=settings.SEEDANCE_DOWNLOAD_SECONDS,
            trust_internal=self.may_be_internal,
        )


def internal_refusal(host):
    """Why a team's gateway may not be at `host`, in words for its owner."""
    return (
        f"{host} is an address inside this network (loopback, private or link-local): "
        "a team's gateway must be on the internet."
    )


def simulator_url():
    return f"http://127.0.0.1:{settings.SIMULATOR_PORT}"


# Which provider the work at hand goes through (a team's connection, or the take's own):
# set by `using`, read by configured(); unset, the deployment's.
_using = ContextVar("provider", default=None)


class _Resolved:
    """A provider looked up once, when first asked for, within one `using` block: its
    error, if it has one, is raised where configured() is called, as the deployment's is."""

    def __init__(self, resolve):
        self.resolve = resolve
        self.provider = self.error = None

    def get(self):
        if self.provider is None and self.error is None:
            try:
                self.provider = self.resolve()
            except ProviderError as error:
                self.error = error
        if self.error is not None:
            raise ProviderError(
                self.error.message, permanent=self.error.permanent, status=self.error.status
            )
        return self.provider


@contextmanager
def using(resolve):
    """Within this block, configured() (and so get_client() and the limits) is the
    provider `resolve()` returns, looked up when first asked for; None: the deployment's."""
    token = _using.set(None if resolve is None else _Resolved(resolve))
    try:
        yield
    finally:
        _using.reset(token)


def configured():
    """The provider of the work at hand (`using`), else the deployment's."""
    resolved = _using.get()
    if resolved is not None:
        return resolved.get()
    return deployment()


def connected(
    name,
    *,
    api_key,
    preset="",
    style="",
    base_url="",
    rpm=None,
    concurrency=None,
    daily=None,
    paused="",
):
    """A team's own gateway connection as a Provider: a preset (its address, style, limits
    and models), or a style and a base URL; its limits, where it gives them, its own."""
    found = PRESETS.get(preset) if preset else None
    if preset and found is None:
        raise ProviderError(f"No preset is called {preset!r}.", permanent=True)
    style_name = style or (found.style if found else "ark")
    style_class = STYLES.get(style_name)
    if style_class is None:
        raise ProviderError(f"No API style is called {style_name!r}.", permanent=True)
    base_url = base_url or (found.base_url if found else "")
    if not base_url:
        raise ProviderError(f"The connection {name} has no base URL.", permanent=True)
    return Provider(
        name=name,
        style=style_class,
        base_url=base_url.rstrip("/"),
        api_key=api_key,
        model=found.default_model if found else style_class.default_model,
        simulated=False,
        headers=dict(found.headers) if found else {},
        rpm=rpm or (found.rpm if found else None),
        concurrency=concurrency or (found.concurrency if found else None),
        daily=daily or (found.daily if found else None),
        lists=style_class.can_list and (found.lists if found else True),
        models=found.models if found else style_class.models,
        connection=True,
        paused=paused,
    )


def deployment():
    """The provider from SEEDANCE_PRESET, overridden field by field by SEEDANCE_BASE_URL,
    SEEDANCE_API_STYLE and SEEDANCE_MODEL; with no base URL at all, the local simulator."""
    preset = None
    if settings.SEEDANCE_PRESET:
        preset = PRESETS.get(settings.SEEDANCE_PRESET)
        if preset is None:
            raise ProviderError(
                f"SEEDANCE_PRESET={settings.SEEDANCE_PRESET!r} is not one of {', '.join(PRESETS)}.",
                permanent=True,
            )
    style_name = settings.SEEDANCE_API_STYLE or (preset.style if preset else "ark")
    style = STYLES.get(style_name)
    if style is None:
        raise ProviderError(
            f"SEEDANCE_API_STYLE={style_name!r} is not one of {', '.join(STYLES)}.",
            permanent=True,
        )
    base_url = settings.SEEDANCE_BASE_URL or (preset.base_url if preset else "")
    if preset and not base_url:
        raise ProviderError(
            f"The {preset.name} preset has no address of its own: set SEEDANCE_BASE_URL.",
            permanent=True,
        )
    simulated = not base_url
    if simulated:
        base_url = simulator_url() + SIMULATOR_PREFIXES[style.name]
    elif not settings.SEEDANCE_API_KEY:
        raise ProviderError(
            f"SEEDANCE_API_KEY is not set, and {base_url} needs one.", permanent=True
        )
    default_model = preset.default_model if preset else style.default_model
    return Provider(
        name=preset.name if preset else ("simulator" if simulated else style.name),
        style=style,
        base_url=base_url.rstrip("/"),
        api_key=settings.SEEDANCE_API_KEY or "simulator",
        model=settings.SEEDANCE_MODEL or default_model,
        simulated=simulated,
        headers=dict(preset.headers) if preset else {},
        rpm=preset.rpm if preset else None,
        concurrency=preset.concurrency if preset else None,
        daily=preset.daily if preset else None,
        lists=style.can_list and (preset.lists if preset else True),
        models=preset.models if preset else style.models,
    )


_clients = {}
_clients_lock = threading.Lock()
_closing_registered = set()


def get_client():
    """The configured provider's client: one per process and configuration, so its
    connections are kept and reused; closed when the process ends (close_clients)."""
    provider = configured().reachable()
    key = (
        os.getpid(),  # a forked worker must not share its parent's connections
        provider.name,
        provider.style.name,
        provider.base_url,
        provider.api_key,
        tuple(sorted(provider.headers.items())),
        settings.PIPELINE_LEASE_SECONDS,
        settings.SEEDANCE_MAX_DOWNLOAD_BYTES,
        settings.SEEDANCE_DOWNLOAD_SECONDS,
        provider.may_be_internal,
    )
    with _clients_lock:
        client = _clients.get(key)
        if client is None or client.http.is_closed:
            client = _clients[key] = provider.client()
        if os.getpid() not in _closing_registered:
            # Runs at the exit of this process, main or multiprocessing child alike.
            Finalize(None, close_clients, exitpriority=10)
            _closing_registered.add(os.getpid())
    return client


def close_clients():
    """Close every provider client this process opened."""
    with _clients_lock:
        for client in _clients.values():
            client.http.close()
        _clients.clear()


def default_model(provider=None):
    """The model of projects that name none: `provider`'s (a project's gateway), else the
    configured one's ('' while the provider is misconfigured)."""
    if provider is not None:
        return provider.model
    try:
        return configured().model
    except ProviderError:
        return ""


def draft_settings(final, fast="", provider=None):
    """The settings a draft is made with, given the final ones (the project's) and the
    project's fast model, if it names one: the configured style's cheapest
    (Style.draft_settings); the final ones less audio while the provider is misconfigured."""
    try:
        style = (provider or configured()).style
    except ProviderError:
        return {**final, "model": fast or final["model"], "generate_audio": False}
    return style.draft_settings(final, fast)


def model_choices():
    """The models a project may pick, as (id, words) pairs: the configured gateway's (its
    preset's, and the server's default), the fast ones, which drafts are made with, said
    to be fast; none while the provider is misconfigured."""
    try:
        provider = configured()
    except ProviderError:
        return []
    fast = set(FAST_MODELS.values())
    return [
        (model, f"{model} (fast, for drafts)" if model in fast else model)
        for model in dict.fromkeys((*provider.models, provider.model))
    ]


def takes_any_model():
    """Whether the configured style takes any model id, an endpoint id among them."""
    try:
        return configured().style.any_model
    except ProviderError:
        return True


def ratio_help():
    """What the configured provider makes at each ratio, where it names pixel sizes."""
    try:
        style = configured().style
    except ProviderError:
        return ""
    return style.ratio_help()


def typical_seconds(duration):
    """How long a clip of `duration` seconds takes to generate, before any was measured."""
    if not settings.SEEDANCE_BASE_URL and not settings.SEEDANCE_PRESET:
        return settings.SIMULATOR_DELAY
    return 30.0 * duration  # tasks take 1-5 minutes for 5-15 s clips
