"""What every endpoint of the API shares: one shape for every error, who asks about which
project (projects.access decides, with the token's limits), pages of lists.

Every error is `{"code": "...", "message": "...", "fields": {...}}`, `fields` only when
a form or a body had fields wrong, each with the messages the web's forms say.
"""

import copy
from typing import Annotated

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from ninja import Field, Schema, Status
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as BodyInvalid
from ninja.pagination import PageNumberPagination, paginate
from pydantic import ConfigDict

from ..access import project_for, team_for
from ..actions import Refused
from ..edits import Conflict
from ..throttle import TooOften

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

# The code of each status, for answers whose error has no code of its own.
CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "too_many_requests",
    500: "server_error",
}
MESSAGES = {
    401: "Send a live access token: Authorization: Bearer <secret>.",
    403: "Refused.",
    404: "Not found.",
    405: "This address does not take that method.",
    500: "Something went wrong on our side.",
}


class ApiError(Exception):
    """An answer that is an error: its status, a code a program reads, a message a
    person reads, and, for invalid input, the messages of each field."""

    def __init__(self, status, code, message, fields=None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields


def error_body(code, message, fields=None):
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return body


def error_response(status, code=None, message=None, fields=None, headers=None):
    response = JsonResponse(
        error_body(code or CODES.get(status, "error"), message or MESSAGES.get(status, ""), fields),
        status=status,
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def form_invalid(form, status=422):
    """A bound, invalid Django form's errors as an ApiError: the same messages the web
    shows beside each field; those of no one field are `__all__`'s, and the first of all
    is the message."""
    fields = {name: [str(m) for m in messages] for name, messages in form.errors.items()}
    everything = [m for messages in fields.values() for m in messages]
    message = everything[0] if everything else "Check the fields."
    return ApiError(status, "invalid", message, fields)


def body_invalid(errors):
    """Ninja's (pydantic's) errors about a body, query or path, by field."""
    fields = {}
    for error in errors:
        where = [
            str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")
        ]
        if where[:1] == ["payload"]:  # the body as a whole: its fields by their own names
            where = where[1:]
        fields.setdefault(".".join(where) or "__all__", []).append(error.get("msg", "Invalid."))
    name, messages = next(iter(fields.items()))
    message = messages[0] if name == "__all__" else f"{name}: {messages[0]}"
    return ApiError(422, "invalid", message, fields)


def json_copy(value):
    """`value`, JSON's dicts, lists and scalars, copied down to its (immutable) scalars."""
    if isinstance(value, dict):
        return {key: json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_copy(item) for item in value]
    return value


def document_errors(api):
    """The schema says of every operation that any answer it does not list (a 405, a 413,
    a 503) is an error in the one shape too (its "default" response).

    Built once per path prefix, since the routes never change while the process runs
    (building it takes a quarter of a second of CPU); each caller gets its own copy: of
    its dicts and lists, the rest being strings, numbers and booleans (copy.deepcopy took
    40 ms of every request for /openapi.json, this 2 ms)."""
    build = api.get_openapi_schema
    built = {}

    def with_errors(*, path_prefix=None, path_params=None):
        if path_prefix is None:  # as ninja finds it (under the request's script prefix)
            path_prefix = api.get_root_path(path_params or {})
        if path_prefix not in built:
            built[path_prefix] = errors_documented(build(path_prefix=path_prefix))
        schema = copy.copy(built[path_prefix])  # ninja's OpenAPISchema, a dict
        schema.update((key, json_copy(value)) for key, value in schema.items())
        return schema

    def errors_documented(schema):
        error = {
            "description": "An error: a code, a message, and what was wrong in which field",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
        }
        for path in schema["paths"].values():
            for operation in path.values():
                # Status codes as JSON says them (ninja's are numbers), beside "default".
                answers = {str(code): answer for code, answer in operation["responses"].items()}
                answers.setdefault("default", error)
                operation["responses"] = answers
        return schema

    api.get_openapi_schema = with_errors


def install(api):
    """Answer every exception the API meets in the one shape."""
    document_errors(api)

    def handle(exc_class, convert):
        api.add_exception_handler(exc_class, lambda request, exc: as_response(convert(exc), exc))

    def as_response(error, exc):
        headers = {}
        if isinstance(exc, TooOften):
            headers["Retry-After"] = str(exc.wait)
        if error.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="api"'

        return error_response(error.status, error.code, error.message, error.fields, headers)

    handle(ApiError, lambda exc: exc)
    handle(Http404, lambda exc: ApiError(404, "not_found", MESSAGES[404]))
    handle(PermissionDenied, lambda exc: ApiError(403, "forbidden", str(exc) or "Forbidden."))
    handle(AuthenticationError, lambda exc: ApiError(401, "unauthenticated", MESSAGES[401]))
    handle(
        HttpError,
        lambda exc: ApiError(exc.status_code, CODES.get(exc.status_code, "error"), str(exc)),
    )
    handle(BodyInvalid, lambda exc: body_invalid(exc.errors))
    handle(TooOften, lambda exc: ApiError(429, "too_many_requests", str(exc)))
    handle(Conflict, lambda exc: ApiError(409, "conflict", str(exc)))
    handle(Refused, lambda exc: ApiError(409, "refused", str(exc)))


def viewer(request, pk, action="view"):
    """The Viewer of the token's owner who may take `action` on project `pk`, within the
    token's limits (projects.access): 404 as for a stranger, 403 saying why."""
    return project_for(request.user, pk, action, token=request.auth)


def team(request, pk, action="view"):
    """(team, role) of a team the token's owner is in and the token reaches."""
    return team_for(request.user, pk, action, token=request.auth)


# The largest id a database holds (a signed 64-bit integer): past it, a number names no
# row, and is refused before a database is asked about it.
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# Any other number sent: within what a database column holds, so that none reaches it to
# overflow (a form then says what it takes).
Number = Annotated[int, Field(ge=-MAX_ID - 1, le=MAX_ID)]
MAX_PAGE = 1_000_000


class Pages(PageNumberPagination):
    """Pages of a list, numbered from 1, of `page_size` rows (PAGE_SIZE unless asked,
    MAX_PAGE_SIZE at most)."""

    class Input(Schema):
        page: int = Field(1, ge=1, le=MAX_PAGE)
        page_size: int | None = Field(None, ge=1, le=MAX_PAGE_SIZE)


def paginated(func):
    """A list, a page at a time (?page=N&page_size=M): `{"items": [...], "count": N}`."""
    return paginate(Pages, page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)(func)


def form_data(form, given):
    """The data to bind a Django form to: what it holds now (an unbound form's values:
    its initial ones, or its instance's), with what the request `given` over them. So a
    body names only what it changes, and the form judges the whole as the web's does.
    Files are left to the form's own (kept unless new ones come)."""
    data = {}
    for name, field in form.fields.items():
        if isinstance(field, forms.FileField):
            continue
        value = form[name].value()
        if value is not None:
            data[name] = value
    for name, value in given.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


class Body(Schema):
    """What a request sends: a JSON object of known fields. (Ninja's schemas read any
    object's attributes, so a string or a list would otherwise pass as an empty body, or
    worse, "abc" as a title from "abc".title; and a misspelt field would go unsaid.)"""

    model_config = ConfigDict(extra="forbid")


class Queued(Schema):
    """What an action set going: the takes it concerns, and a word when it did nothing."""

    takes: list[int]
    message: str = ""


def accepted(takes, nothing=""):
    """202: what an action set going (take rows or ids), or `nothing`'s word when none."""
    ids = [getattr(take, "pk", take) for take in takes]
    return Status(202, {"takes": ids, "message": "" if ids else nothing})


class ErrorOut(Schema):
    """Every error: a code a program reads, a message a person reads, and, for what was
    sent wrong, each field's messages."""

    code: str
    message: str
    fields: dict[str, list[str]] | None = None


# What an operation may answer besides its success (a superset: not each can say each).
ERRORS = frozenset({400, 401, 403, 404, 409, 422, 429})


def answers(schema, status=200):
    """An operation's responses: `schema` at `status`, and the error shape at each error."""
    return {status: schema, ERRORS: ErrorOut}
