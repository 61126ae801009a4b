"""The gateway's chat model breaking a script down into shots: an OpenAI-style
`/v1/chat/completions` request with a JSON schema, and its answer checked as JSON of that
shape. The gateways in the seeds are OpenAI-compatible aggregators that serve chat too."""

import json
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from .base import ProviderError

PATH = "/v1/chat/completions"
SYSTEM = (
    "You are a storyboard artist. Break the script into shots for Seedance 2.0, 4 to 15 "
    "seconds each. Write each prompt in Seedance's camera language: shot size, camera "
    "movement, subject, action, scene, lighting. A shot that goes on from the one before "
    "in the same place opens with 'continue', any other with 'cut'. Name the characters, "
    "locations and props as the cast, and put what is said in the shot's notes."
)
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["cast", "shots"],
    "properties": {
        "cast": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "kind", "description"],
                "properties": {
                    "name": {"type": "string"},
                    "kind": {"type": "string", "enum": ["character", "location", "prop"]},
                    "description": {"type": "string"},
                },
            },
        },
        "shots": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["prompt", "duration", "opening", "cast", "notes"],
                "properties": {
                    "prompt": {"type": "string"},
                    "duration": {"type": "integer", "minimum": 4, "maximum": 15},
                    "opening": {"type": "string", "enum": ["cut", "continue"]},
                    "cast": {"type": "array", "items": {"type": "string"}},
                    "notes": {"type": "string"},
                },
            },
        },
    },
}


def enabled():
    return bool(settings.SCRIPT_MODEL)


def address():
    """Where the chat model answers: SCRIPT_BASE_URL, else the video gateway's origin."""
    if settings.SCRIPT_BASE_URL:
        return settings.SCRIPT_BASE_URL + PATH
    from . import configured

    base = urlsplit(configured().base_url)
    return f"{base.scheme}://{base.netloc}{PATH}"


def breakdown(script, timeout=120.0):
    """The chat model's breakdown of `script`, as the JSON text SCHEMA describes;
    ProviderError when it cannot be had."""
    from . import configured

    body = {
        "model": settings.SCRIPT_MODEL,
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": script},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "storyboard", "strict": True, "schema": SCHEMA},
        },
        "temperature": 0,
    }
    url = address()
    key = settings.SEEDANCE_API_KEY or ("simulator" if configured().simulated else "")
    try:
        answer = httpx.post(url, json=body, headers={"Authorization": f"Bearer {key}"},
                            timeout=timeout)  # fmt: skip
    except httpx.HTTPError as error:
        raise ProviderError(f"The chat model at {url} did not answer: {error}") from error
    if answer.status_code != 200:
        raise ProviderError(
            f"The chat model at {url} answered {answer.status_code}: {answer.text[:300]}"
        )
    try:
        content = answer.json()["choices"][0]["message"]["content"]
        json.loads(content)
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise ProviderError(
            f"The chat model's answer is not the JSON asked for ({error})."
        ) from error
    return content
