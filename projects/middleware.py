"""Messages set while answering htmx reach the page; changes are logged as their author's;
a rate passed is answered 429; the development key answers this machine only; a refused
upload read anyway is a 413."""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from auditlog.context import set_actor
from django.conf import settings
from django.contrib.messages import get_messages
from django.http import HttpResponse, HttpResponseForbidden, HttpResponseNotAllowed
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.decorators import sync_and_async_middleware
from django.utils.deprecation import MiddlewareMixin
from whitenoise.middleware import WhiteNoiseMiddleware

from .addresses import client_address, is_loopback
from .throttle import TooOften
from .uploads import UploadTooLarge


class HtmxMessagesMiddleware(MiddlewareMixin):
    """An htmx request swaps one fragment, so the page's message area would never show
    what the view said; this appends it, marked to replace the area wherever it is."""

    def process_response(self, request, response):
        if (
            not getattr(request, "htmx", False)
            or response.streaming
            or response.status_code in (204, 301, 302, 303, 307, 308)
            or "HX-Redirect" in response
            or not response.get("Content-Type", "").startswith("text/html")
        ):
            return response
        messages = get_messages(request)
        if not messages:
            return response
        response.write(render_to_string("flash.html", {"messages": messages, "oob": True}))
        return response


class TooOftenMiddleware(MiddlewareMixin):
    """A rate passed (projects.throttle) is a 429 saying when to try again; htmx shows its
    words on the page, as it does a 403's (static/js/app.js)."""

    def process_exception(self, request, exception):
        if isinstance(exception, TooOften):
            context = {"exception": exception, "back": exception.back}
            return render(request, "429.html", context, status=429)
        return None


@sync_and_async_middleware
def audit_actor(get_response):
    """Changes made while answering a signed-in person are logged as theirs (auditlog).

    auditlog's own middleware is synchronous only. Served by uvicorn (ASGI), every request
    takes the asynchronous path and the sync view runs in a thread that inherits this
    context: so both paths set the actor. It is the request's lazy user, read only when an
    entry is written (in the view's thread); auditlog keeps it only if it is a user, so an
    anonymous holder of a link is never an actor (their name rides in the entry).
    """
    if iscoroutinefunction(get_response):

        async def logged_async(request):
            with set_actor(getattr(request, "user", None)):
                return await get_response(request)

        return logged_async

    def logged(request):
        with set_actor(getattr(request, "user", None)):
            return get_response(request)

    return logged


class RefusedUploads(MiddlewareMixin):
    """Forms say why a file is too large; a view without one that reads it anyway (the
    admin's) answers 413, and stores nothing."""

    def process_exception(self, request, exception):
        if isinstance(exception, UploadTooLarge):
            return HttpResponse(str(exception), status=413, content_type="text/plain")
        return None


ELSEWHERE = (
    "This server signs with the development key, which anyone can read, so it answers "
    "this machine only. Set SECRET_KEY, or start it with manage.py up, which makes a key "
    "of its own when it serves beyond this machine."
)


@sync_and_async_middleware
def development_key_stays_home(get_response):
    """Whoever holds the development key forges sessions, links and signed inputs, and the
    Host header proves nothing about where a request comes from: so on that key, a client
    other than this machine is refused, whatever host it names or server it reached."""

    def refused(request):
        if settings.SECRET_KEY != settings.DEVELOPMENT_KEY:
            return None
        if is_loopback(client_address(request)):
            return None
        return HttpResponseForbidden(ELSEWHERE, content_type="text/plain")

    if iscoroutinefunction(get_response):

        async def guarded_async(request):
            return refused(request) or await get_response(request)

        return guarded_async

    def guarded(request):
        return refused(request) or get_response(request)

    return guarded


class StaticFiles(WhiteNoiseMiddleware):
    """WhiteNoise's static files, on the asynchronous path as well.

    WhiteNoise's middleware is synchronous only: under uvicorn, every request (fifty
    event streams reconnecting at once among them) crossed into a thread of its own and
    back to reach the rest of the chain. Here only a static file is served from a thread.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response=None, **kwargs):
        super().__init__(get_response, **kwargs)
        self.asynchronous = iscoroutinefunction(get_response)
        if self.asynchronous:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.asynchronous:
            return self.__acall__(request)
        return super().__call__(request)

    # The finders' files as WhiteNoise reads them at start (each stat, headers and
    # compressed alternatives), by the settings they depend on: read once a process,
    # however many request handlers it makes (Django's test client makes one a client,
    # and reading them took about 0.1 s of CPU each time).
    _finders_files = {}
    _FINDERS_SETTINGS = (
        "DEBUG",
        "FORCE_SCRIPT_NAME",
        "INSTALLED_APPS",
        "STATIC_URL",
        "STATICFILES_DIRS",
        "STATICFILES_FINDERS",
        "WHITENOISE_ADD_HEADERS_FUNCTION",
        "WHITENOISE_ALLOW_ALL_ORIGINS",
        "WHITENOISE_CHARSET",
        "WHITENOISE_IMMUTABLE_FILE_TEST",
        "WHITENOISE_MAX_AGE",
        "WHITENOISE_MIMETYPES",
        "WHITENOISE_STATIC_PREFIX",
    )

    def add_files_from_finders(self):
        key = repr([getattr(settings, name, None) for name in self._FINDERS_SETTINGS])
        found = self._finders_files.get(key)
        if found is None:
            files, self.files = self.files, {}
            try:
                super().add_files_from_finders()
                found = self._finders_files[key] = self.files
            finally:
                self.files = files
        self.files.update(found)

    async def __acall__(self, request):
        if self.autorefresh:  # looked for on disk (DEBUG)
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        return await self.get_response(request)


class ApiErrors(MiddlewareMixin):
    """Under /api/, an error answered before the API's own handlers could (an address
    it has not, a method an address does not take) is the API's one JSON shape too.
    (CSRF: the API knows no one by cookie, only by a bearer token, which another site's
    page cannot send; ninja exempts its operations, and tests/test_api.py checks that
    every one asks for a token.)"""

    # Ninja's own pages (its schema, its documentation, its root) answer any method.
    READ_ONLY = {"openapi-json", "openapi-view", "api-root"}

    def process_view(self, request, view, args, kwargs):
        if not request.path.startswith("/api/"):
            return None
        match = request.resolver_match
        if match.url_name in self.READ_ONLY and request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        return None

    def process_response(self, request, response):
        if (
            request.path.startswith("/api/")
            and response.status_code >= 400
            and not response.streaming
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            from .api.common import error_response

            fixed = error_response(response.status_code)
            if response.has_header("Allow"):
                fixed["Allow"] = response["Allow"]
            return fixed
        return response
