"""Injected faults: rules, a request header and prompt directives that make things go wrong."""

from __future__ import annotations

import json
import math
import re
import threading
import time
from dataclasses import asdict, dataclass, replace
from email.utils import formatdate

from .engine import BROKEN, EXPIRED, MODERATED, TaskError
from .inputs import InputError
from .render import ENDINGS

OPS = ("create", "get", "list", "cancel", "download")
# The task-ending actions (and directives) and what each makes of the task.
FATES = {"moderation": MODERATED, "expire": EXPIRED, "fail": BROKEN}
# A task ends badly only where a task is made (create) or looked at (get).
FATE_OPS = ("create", "get")
KINDS = ("status", "latency", "timeout", "lose_answer", "statuses", "result_host", *FATES)
# Answers that show tasks, which "statuses" and "result_host" actions change.
ANSWER_OPS = ("create", "get", "list")
HOST = re.compile(r"[A-Za-z0-9.-]+(:\d{1,5})?")
STATUS_EXTRAS = ("code", "message", "retry_after", "retry_after_as")
# How a wait is said, as gateways say it: whole seconds (rounded up, never too early),
# decimal seconds, an HTTP date, or milliseconds in retry-after-ms (OpenAI's header).
RETRY_AFTER_FORMS = ("seconds", "decimal", "date", "ms")
# Long enough for any client to give up; stop() releases the connection sooner.
HANG_SECONDS = 30.0
DIRECTIVE = re.compile(r"\s*\[sim:([^\]]*)\]")
MAX_DELAY = 86400


@dataclass(frozen=True)
class Action:
    """What a fault does to the request it applies to: exactly one of these, set."""

    status: int | None = None  # answer with this error status, in the style's body
    code: str | None = None  # instead of the style's code for that status
    message: str | None = None
    retry_after: float | None = None  # seconds, sent as Retry-After
    retry_after_as: str = "seconds"  # which of RETRY_AFTER_FORMS says it
    latency: float = 0.0  # answer normally, this much later
    timeout: bool = False  # hold the connection, then close it unanswered
    lose_answer: bool = False  # do the work, then close the connection unanswered
    fate: TaskError | None = None  # the created or read task ends this way
    # Answer normally, but say each status word as this maps it ({"in_progress":
    # "processing"}): how gateways differ in words for the same states.
    statuses: tuple[tuple[str, str], ...] = ()
    # Answer normally, but with result links on this host ("localhost", "files.test:8080";
    # without a port, the API's), as gateways whose files live on a CDN give them.
    result_host: str | None = None

    @classmethod
    def parse(cls, spec):
        """An Action from its JSON form, e.g. {"status": 429, "retry_after": 2}."""
        if not isinstance(spec, dict):
            raise ValueError("a fault action must be a JSON object")
        kinds = [key for key in spec if key in KINDS]
        unknown = [key for key in spec if key not in KINDS and key not in STATUS_EXTRAS]
        if unknown:
            raise ValueError(f"unknown fault field {unknown[0]!r}; actions are {', '.join(KINDS)}")
        if len(kinds) != 1:
            raise ValueError(f"give exactly one action of {', '.join(KINDS)}")
        (kind,) = kinds
        value = spec[kind]
        if kind != "status":
            if any(key in spec for key in STATUS_EXTRAS):
                raise ValueError("code, message and retry_after(_as) go with status only")
            if kind == "latency":
                if not _number(value) or not 0 <= value <= HANG_SECONDS:
                    raise ValueError(f"latency must be 0-{HANG_SECONDS:g} seconds")
                return cls(latency=float(value))
            if kind == "statuses":
                if (
                    not isinstance(value, dict)
                    or not value
                    or not all(isinstance(w, str) and w for w in (*value, *value.values()))
                ):
                    raise ValueError("statuses must map status words to other words")
                return cls(statuses=tuple(value.items()))
            if kind == "result_host":
                if not isinstance(value, str) or not HOST.fullmatch(value):
                    raise ValueError("result_host must be a host name, with a port or without")
                return cls(result_host=value)
            if value is not True:
                raise ValueError(f"{kind} must be true")
            if kind in FATES:
                return cls(fate=FATES[kind])
            return cls(**{kind: True})
        if isinstance(value, bool) or not isinstance(value, int) or not 400 <= value <= 599:
            raise ValueError("status must be an HTTP error status, 400-599")
        for key in ("code", "message"):
            if spec.get(key) is not None and not isinstance(spec[key], str):
                raise ValueError(f"{key} must be a string")
        retry_after = spec.get("retry_after")
        if retry_after is None and value == 429:
            retry_after = 1
        if retry_after is not None and (not _number(retry_after) or retry_after < 0):
            raise ValueError("retry_after must be a number of seconds")
        form = spec.get("retry_after_as", "seconds")
        if form not in RETRY_AFTER_FORMS:
            raise ValueError(f"retry_after_as must be one of {', '.join(RETRY_AFTER_FORMS)}")
        return cls(value, spec.get("code"), spec.get("message"), retry_after, form)

    @classmethod
    def from_header(cls, value):
        """The action of an X-Simulator-Fault header; InputError blames the header."""
        try:
            return cls.parse(json.loads(value))
        except ValueError as exc:  # json's errors are ValueErrors too
            raise InputError(str(exc), "X-Simulator-Fault") from None

    def ops(self):
        """The operations this action can apply to."""
        if self.lose_answer:
            return ("create",)
        if self.statuses or self.result_host:
            return ANSWER_OPS
        if self.fate:
            return FATE_OPS
        return OPS

    def describe(self):
        shown = {
            key: value for key, value in asdict(self).items() if value not in (None, 0, False, ())
        }
        if self.retry_after is None:
            shown.pop("retry_after_as")
        if self.fate:
            shown["fate"] = self.fate.kind
        if self.statuses:
            shown["statuses"] = dict(self.statuses)
        return shown

    def reword(self, answer):
        """An answer with its status words said as `statuses` maps them (a task's, or each
        listed task's); anything else as it is."""
        if not self.statuses or not isinstance(answer, dict):
            return answer
        words = dict(self.statuses)
        if isinstance(answer.get("status"), str):
            answer = {**answer, "status": words.get(answer["status"], answer["status"])}
        if isinstance(answer.get("items"), list):
            answer = {**answer, "items": [self.reword(item) for item in answer["items"]]}
        return answer


@dataclass(frozen=True)
class Rule:
    op: str
    style: str | None
    remaining: int | None
    action: Action


class Faults:
    """The fault rules of one server; the first rule matching a request applies to it."""

    def __init__(self, styles):
        self._styles = tuple(styles)
        self._lock = threading.Lock()
        self._rules = []

    def add(self, op, action, *, style=None, count=None):
        """Apply `action` to the next `count` (None: every) `op` request of `style` (None: any).

        `op` is one of OPS or "*"; a "*" rule passes over requests its action cannot apply to.
        Raises ValueError for anything malformed.
        """
        if op != "*" and op not in OPS:
            raise ValueError(f"op must be one of {', '.join(OPS)} or *")
        if style is not None and style not in self._styles:
            raise ValueError(f"style must be one of {', '.join(self._styles)}")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            raise ValueError("count must be a whole number")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1")
        action = Action.parse(action)
        if op != "*" and op not in action.ops():
            raise ValueError(f"this action applies to {' and '.join(action.ops())} only")
        with self._lock:
            self._rules.append(Rule(op, style, count, action))

    def clear(self):
        with self._lock:
            self._rules.clear()

    def take(self, op, style):
        """The action for one `op` request of `style`, using up one of its rule's count."""
        with self._lock:
            for index, rule in enumerate(self._rules):
                if rule.op not in ("*", op) or rule.style not in (None, style):
                    continue
                if op not in rule.action.ops():
                    continue
                if rule.remaining == 1:
                    del self._rules[index]
                elif rule.remaining is not None:
                    self._rules[index] = replace(rule, remaining=rule.remaining - 1)
                return rule.action
        return None

    def describe(self):
        with self._lock:
            return [
                {"op": rule.op, "style": rule.style, "count": rule.remaining}
                | rule.action.describe()
                for rule in self._rules
            ]


def retry_after_headers(seconds, form="seconds"):
    """The header saying to wait `seconds` (None: no header), in one of RETRY_AFTER_FORMS."""
    if seconds is None:
        return {}
    if form == "ms":
        return {"retry-after-ms": str(round(seconds * 1000))}
    if form == "date":
        # HTTP dates count whole seconds: round up, so the date is never too early.
        return {"Retry-After": formatdate(math.ceil(time.time() + seconds), usegmt=True)}
    if form == "decimal":
        return {"Retry-After": f"{seconds:g}"}
    return {"Retry-After": str(math.ceil(seconds))}


def read_directives(prompt, param):
    """Take [sim:...] directives out of a prompt: (text, fate, delay, ending), each of the
    last three None when not asked for.

    Directives: [sim:moderation], [sim:expire], [sim:fail], [sim:delay=<seconds>], and
    [sim:end=black|blur|cut], a clip whose last moments are spoiled (see render.ENDINGS).
    """
    fate = delay = ending = None
    for match in DIRECTIVE.finditer(prompt):
        word = match[1].strip()
        name, _, value = word.partition("=")
        if word in FATES:
            fate = FATES[word]
        elif name == "delay":
            try:
                delay = float(value)
            except ValueError:
                delay = -1.0
            if not 0 <= delay < MAX_DELAY:
                raise InputError(f"[sim:{word}] needs a delay of 0-{MAX_DELAY} seconds", param)
        elif name == "end":
            if value not in ENDINGS:
                raise InputError(f"[sim:{word}] needs an ending of {'|'.join(ENDINGS)}", param)
            ending = value
        else:
            choices = ", ".join(f"[sim:{name}]" for name in FATES)
            raise InputError(
                f"unknown simulator directive [sim:{word}]; use {choices}, [sim:delay=N] "
                f"or [sim:end={'|'.join(ENDINGS)}]",
                param,
            )
    if fate is None and delay is None and ending is None:
        return prompt, None, None, None
    return DIRECTIVE.sub("", prompt).strip(), fate, delay, ending


def _number(value):
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
