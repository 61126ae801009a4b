"""A team's own gateway connections, on its page: added, tested, their keys replaced, the
team's default picked, deleted. Owners only; the key is never shown again after saving."""

from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.validators import RegexValidator
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_q.tasks import async_task

from .. import limits, pipeline, providers
from ..access import team_for
from ..addresses import is_internal_ip
from ..models import Connection


def key_field(label):
    """An API key as a form takes it: printable ASCII, no space or control character
    (one would make the HTTP client refuse the header, quoting it whole in its error)."""
    return forms.CharField(
        max_length=2000,
        label=label,
        strip=True,
        validators=[
            RegexValidator(
                r"^[\x21-\x7e]+$",
                "A key is printable ASCII without spaces or line breaks.",
            )
        ],
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Kept sealed; never shown again (its last four characters are).",
    )


class ConnectionForm(forms.Form):
    name = forms.CharField(max_length=100)
    preset = forms.ChoiceField(
        required=False,
        choices=[("", "Another endpoint: the style and base URL below")]
        + [(name, preset.title) for name, preset in providers.PRESETS.items()],
    )
    style = forms.ChoiceField(
        required=False,
        label="API style",
        choices=[("", "the preset's")] + [(name, name) for name in providers.STYLES],
    )
    base_url = forms.URLField(
        required=False,
        assume_scheme="https",
        max_length=500,
        label="Base URL",
        help_text="Needed without a preset, and for a preset that has no address of its own.",
    )
    key = key_field("API key")
    concurrency = forms.IntegerField(
        required=False, min_value=1, label="Tasks at once", help_text="Empty: the preset's, if any."
    )
    rpm = forms.IntegerField(required=False, min_value=1, label="Requests a minute")
    daily = forms.IntegerField(required=False, min_value=1, label="Requests a day")
    default = forms.BooleanField(required=False, initial=True, label="The team's projects use it")

    def __init__(self, *args, team=None, **kwargs):
        kwargs.setdefault("auto_id", "connection-%s")  # beside the team's own form
        super().__init__(*args, **kwargs)
        self.team = team

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if self.team is not None and self.team.connections.filter(name=name).exists():
            raise forms.ValidationError("The team has a connection of that name.")
        return name

    def clean_base_url(self):
        """Refuse an address inside this network at once when it is one (an IP, localhost);
        a name is resolved when the connection is used (Provider.reachable), never here."""
        url = self.cleaned_data["base_url"]
        if url and not settings.GATEWAYS_ALLOW_INTERNAL:
            host = (urlsplit(url).hostname or "").rstrip(".")
            if _is_internal_literal(host):
                raise forms.ValidationError(providers.internal_refusal(host))
        return url

    def clean(self):
        data = super().clean()
        try:
            providers.connected(
                "new",
                api_key="-",
                preset=data.get("preset", ""),
                style=data.get("style", ""),
                base_url=data.get("base_url", ""),
            )
        except providers.ProviderError as error:
            if not self.has_error("base_url"):
                self.add_error("base_url" if "base URL" in str(error) else None, str(error))
        return data


def _is_internal_literal(host):
    """Whether `host` is, as written, inside this network: localhost, or an IP that is."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return is_internal_ip(host)
    except ValueError:  # a name
        return False


class KeyForm(forms.Form):
    key = key_field("New API key")


def _check_later(connection):
    """Test it in the worker; the team page shows the answer when it comes."""
    Connection.objects.filter(pk=connection.pk).update(
        check_state=Connection.Check.CHECKING, check_message=""
    )
    transaction.on_commit(lambda: _enqueue(connection.pk))


def _enqueue(connection_id):
    try:
        async_task("projects.tasks.check_connection", connection_id)
    except Exception as error:  # the broker refused it: said on the page, not a 500
        Connection.objects.filter(pk=connection_id).update(
            check_state=Connection.Check.FAILED,
            check_message=f"The test could not be queued ({error}).",
        )


@sensitive_post_parameters("key")  # never in an error report
@login_required
@require_POST
def connection_create(request, pk):
    team, _ = team_for(request.user, pk, "manage")
    form = ConnectionForm(request.POST, team=team)
    if not form.is_valid():
        errors = "; ".join(
            f"{form.fields[field].label or field}: {' '.join(problems)}"
            if field != "__all__"
            else " ".join(problems)
            for field, problems in form.errors.items()
        )
        messages.error(request, f"The connection was not added. {errors}")
        return redirect("team-detail", pk=pk)
    data = form.cleaned_data
    connection = Connection(
        team=team,
        name=data["name"],
        preset=data["preset"],
        style=data["style"],
        base_url=data["base_url"],
        concurrency=data["concurrency"],
        rpm=data["rpm"],
        daily=data["daily"],
        created_by=request.user,
    )
    connection.set_key(data["key"])
    with transaction.atomic():
        connection.save()
        if data["default"]:
            team.gateway = connection
            team.save(update_fields=["gateway"])  # saved, not updated: the activity log
    _check_later(connection)
    messages.success(
        request,
        f"Added the connection {connection.name}"
        + (": the team's projects use it from their next take." if data["default"] else ".")
        + " Testing it now.",
    )
    return redirect("team-detail", pk=pk)


def _connection(request, pk, connection_id):
    team, _ = team_for(request.user, pk, "manage")
    return team, get_object_or_404(team.connections, pk=connection_id)


@sensitive_post_parameters("key")  # never in an error report
@login_required
@require_POST
def connection_key(request, pk, connection_id):
    """Replace the key: a paused connection resumes, and is tested again."""
    team, connection = _connection(request, pk, connection_id)
    form = KeyForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"The key was not saved. {' '.join(form.errors['key'])}")
        return redirect("team-detail", pk=pk)
    was_paused = connection.paused_at is not None
    connection.set_key(form.cleaned_data["key"])
    connection.save(update_fields=["sealed_key", "key_end", "paused_at", "paused_reason"])
    _check_later(connection)
    if was_paused:  # what waited on it goes now (takes in flight are read again by the clock)
        transaction.on_commit(lambda: async_task("projects.tasks.resume", team.pk))
    messages.success(request, f"Saved the new key of {connection.name}. Testing it now.")
    return redirect("team-detail", pk=pk)


@login_required
@require_POST
def connection_check(request, pk, connection_id):
    _, connection = _connection(request, pk, connection_id)
    _check_later(connection)
    messages.info(request, f"Testing {connection.name}…")
    return redirect("team-detail", pk=pk)


@login_required
@require_POST
def connection_delete(request, pk, connection_id):
    """Delete a connection no take is at the gateway through; its spend stays in the
    ledger. Its team's projects go back to the deployment's gateway if it was the default.

    A paused one (its key refused) may be deleted with takes still at its gateway, once
    the owner confirms giving them up: they are read no more while it is paused, and
    would otherwise never end. The check and the delete hold its gate row, so no take is
    claimed for it in between."""
    _, connection = _connection(request, pk, connection_id)
    give_up = request.POST.get("give_up") == "yes"
    with transaction.atomic():
        limits.hold(connection.provider_name)
        connection = Connection.objects.filter(pk=connection.pk).first()
        if connection is None:  # deleted by another request meanwhile
            return redirect("team-detail", pk=pk)
        busy = connection.in_flight()
        count = busy.count()
        if count and not (give_up and connection.paused_at is not None):
            if connection.paused_at is not None:
                message = (
                    f"{connection.name} is paused with {count} take(s) at the gateway: "
                    "confirm giving them up to delete it."
                )
            else:
                message = (
                    f"{connection.name} has {count} take(s) at the gateway; delete it once "
                    "they end (pick another default meanwhile, so nothing new goes through it)."
                )
            messages.error(request, message)
            return redirect("team-detail", pk=pk)
        given_up = pipeline.give_up_connection(
            connection, f"its team deleted the paused gateway connection “{connection.name}”."
        )
        was_default = connection.is_default
        connection.delete()
    messages.success(
        request,
        f"Deleted the connection {connection.name}."
        + (f" {given_up} take(s) at its gateway were given up." if given_up else "")
        + (" The team's new takes go through the server's own gateway." if was_default else ""),
    )
    return redirect("team-detail", pk=pk)


@login_required
@require_POST
def connection_default(request, pk):
    """Pick the connection the team's new takes go through ('' : the deployment's). Takes
    already sent finish where they went; nothing is marked stale."""
    team, _ = team_for(request.user, pk, "manage")
    chosen = request.POST.get("connection", "")
    connection = get_object_or_404(team.connections, pk=chosen) if chosen else None
    team.gateway = connection
    team.save(update_fields=["gateway"])  # saved, not updated: the activity log
    where = connection.name if connection else "the server's own gateway"
    messages.success(request, f"The team's new takes go through {where}.")
    return redirect("team-detail", pk=pk)
