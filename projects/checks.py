"""System checks: a configuration that serves other hosts never runs on the development key."""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured


def development_key_problem():
    """Why this configuration must not run on its key, or None when it may."""
    if settings.DEBUG or settings.SECRET_KEY != settings.DEVELOPMENT_KEY:
        return None
    remote = sorted(set(settings.ALLOWED_HOSTS) - settings.LOCAL_HOSTS)
    if not remote:
        return None
    return (
        f"SECRET_KEY is the development key, and ALLOWED_HOSTS serves {', '.join(remote)}: "
        "set SECRET_KEY to a long random value "
        "(python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )


@checks.register(checks.Tags.security)
def development_key(app_configs, **kwargs):
    problem = development_key_problem()
    return [checks.Error(problem, id="storyboard.E001")] if problem else []


def refuse_development_key():
    """For servers, which run no system checks: refuse to start as `check` would."""
    problem = development_key_problem()
    if problem:
        raise ImproperlyConfigured(problem)
