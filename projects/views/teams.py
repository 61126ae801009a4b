"""Teams in the app: made, renamed, their members and roles, invitations, budget and spend."""

from datetime import timedelta

from auditlog.context import set_actor
from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core import signing
from django.db import IntegrityError, transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from .. import activity, costs, throttle, webhooks
from ..access import ROLES, team_for
from ..models import Connection, Endpoint, Invitation, Membership, Role, Team
from .connections import ConnectionForm

INVITATION_SALT = "projects.invitation"
# How long a used invitation is still shown on the team page, saying who used it and when.
USED_SHOWN = timedelta(days=30)


class _SignedAt(signing.TimestampSigner):
    """A signer whose timestamp is a given moment: an invitation's link, signed at its
    making, is the same link each time it is given."""

    def __init__(self, at, **kwargs):
        super().__init__(**kwargs)
        self.at = at

    def timestamp(self):
        return signing.b62_encode(int(self.at.timestamp()))


def invitation_path(invitation, secret=None):
    """The path of an invitation's link (its secret, signed with its id), or None when
    its secret is not known here (a named invitation is answered signed in, not by link;
    one made before seeds were kept gave its link once)."""
    secret = secret or invitation.secret()
    if not secret or invitation.invitee_name:
        return None
    token = _SignedAt(invitation.created_at, salt=INVITATION_SALT).sign_object(
        {"i": invitation.pk, "s": secret}
    )
    return reverse("invitation", args=[token])


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ["name", "monthly_budget_tokens"]


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=2000,
        help_text="Where each event is POSTed, signed: http:// or https://.",
    )
    events = forms.MultipleChoiceField(
        choices=[(name, f"{name} · {about}") for name, about in webhooks.EVENTS.items()],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Pick the events this endpoint wants."},
    )

    def clean_url(self):
        url = self.cleaned_data["url"].strip()
        problem = webhooks.url_problem(url)
        if problem:
            raise forms.ValidationError(problem)
        return url


# A team's endpoints at most: each event is sent to every one that wants it.
MAX_ENDPOINTS = 10


class InviteForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices, initial=Role.EDITOR)
    username = forms.CharField(
        required=False,
        max_length=150,
        label="Or invite someone who has an account",
        help_text="Their user name: they accept on their Teams page. Leave empty for a "
        "link to send.",
    )


@login_required
def team_list(request):
    """The user's teams, and a new one."""
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            team = form.save()
            Membership.objects.create(team=team, user=request.user, role=Role.OWNER)
        messages.success(request, f"Made the team {team.name}; you own it.")
        return redirect("team-detail", pk=team.pk)
    memberships = request.user.memberships.select_related("team").order_by("team__name")
    context = {"memberships": memberships, "form": form, "invited": invited(request.user)}
    return render(request, "teams/team_list.html", context)


def invited(user):
    """The invitations waiting for `user`'s answer, for the pages that list them."""
    return Invitation.objects.for_user(user).select_related("team", "created_by")


@login_required
@require_POST
def invitation_answer(request, invitation_id):
    """Join a team one was invited to by name, or decline."""
    invitation = get_object_or_404(invited(request.user), pk=invitation_id)
    if "join" in request.POST:
        return _accept(request, invitation, request.user)
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    messages.info(request, f"You declined to join {invitation.team.name}.")
    return redirect("team-list")


@login_required
@never_cache  # it holds the open invitations' links, for the team's owners
def team_detail(request, pk):
    team, role = team_for(request.user, pk)
    form = TeamForm(request.POST or None, instance=team)
    if request.method == "POST":
        team, role = team_for(request.user, pk, "manage")
        if form.is_valid():
            form.save()
            messages.success(request, "Saved.")
            return redirect("team-detail", pk=pk)
    return _team_page(request, team, role, form=form)


def _team_page(request, team, role, form=None, endpoint_form=None):
    """The team page; a 400 when a form on it was refused."""
    form = form or TeamForm(instance=team)
    # Who may invite, manage webhooks and the team's gateways: owners.
    manages = role in ROLES["manage"]
    gateways = list(team.connections.select_related("team"))
    context = {
        "connections": gateways,
        "default_connection": next((c for c in gateways if c.pk == team.gateway_id), None),
        # A test under way: the page looks again until its answer is in.
        "checking": any(c.check_state == Connection.Check.CHECKING for c in gateways),
        "connection_form": ConnectionForm(team=team),
        "team": team,
        "role": role,
        "manages": manages,
        "form": form,
        "invite_form": InviteForm(),
        "roles": Role.choices,
        "memberships": team.memberships.select_related("user").order_by("user__username"),
        "spend": costs.team_spend(team),
        "activity": activity.of_team(team)[:20],
        # Only those who may invite see the invitations, and their links to copy again.
        "invitations": _invitations(request, team) if manages else [],
        "used": (
            team.invitations.filter(used_at__gt=timezone.now() - USED_SHOWN)
            .select_related("used_by", "created_by")
            .order_by("-used_at")
            if manages
            else []
        ),
        # Webhooks, to owners only: endpoints (the secret of the one just made, once)
        # and what was delivered.
        "webhooks": _webhooks(request, team, endpoint_form) if manages else None,
    }
    refused = form.errors or (endpoint_form is not None and endpoint_form.errors)
    return render(request, "teams/team_detail.html", context, status=400 if refused else 200)


def _webhooks(request, team, endpoint_form):
    made = request.session.pop("endpoint-made", None)
    endpoints = list(team.endpoints.all())
    return {
        "form": endpoint_form or EndpointForm(),
        "endpoints": [
            {"endpoint": e, "secret": e.secret if e.pk == made else None} for e in endpoints
        ],
        "may_add": len(endpoints) < MAX_ENDPOINTS,
        "deliveries": webhooks.recent(team),
    }


@login_required
@require_POST
def endpoint_create(request, pk):
    """A new endpoint; its secret is shown on the team page once, never again."""
    team, role = team_for(request.user, pk, "manage")
    form = EndpointForm(request.POST)
    if not form.is_valid():
        return _team_page(request, team, role, endpoint_form=form)
    with transaction.atomic():
        # The team's row locked first: two adds at once count one after the other.
        Team.objects.select_for_update().filter(pk=team.pk).first()
        if team.endpoints.count() >= MAX_ENDPOINTS:
            endpoint = None
        else:
            endpoint = Endpoint.objects.create(
                team=team,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                created_by=request.user,
            )
    if endpoint is None:
        messages.error(request, f"A team has at most {MAX_ENDPOINTS} endpoints.")
        return redirect("team-detail", pk=pk)
    request.session["endpoint-made"] = endpoint.pk
    messages.success(
        request, "Added the endpoint. Copy its signing secret now: it is not shown again."
    )
    return redirect(reverse("team-detail", args=[pk]) + "#webhooks")


def _endpoint(request, pk, endpoint_id, **more):
    """An endpoint of a team the user manages (404 otherwise), and the team page's
    webhooks section to go back to."""
    team, _ = team_for(request.user, pk, "manage")
    endpoint = get_object_or_404(team.endpoints, pk=endpoint_id, **more)
    return endpoint, reverse("team-detail", args=[pk]) + "#webhooks"


@login_required
@require_POST
def endpoint_enable(request, pk, endpoint_id):
    """Turn an endpoint off (its pending deliveries fail, unsent) or on again."""
    endpoint, back = _endpoint(request, pk, endpoint_id)
    endpoint.enabled = request.POST.get("enabled") == "1"
    endpoint.save(update_fields=["enabled"])
    state = "sends events again" if endpoint.enabled else "is off: nothing is sent to it"
    messages.success(request, f"{endpoint.url} {state}.")
    return redirect(back)


@login_required
@require_POST
def endpoint_delete(request, pk, endpoint_id):
    endpoint, back = _endpoint(request, pk, endpoint_id)
    endpoint.delete()
    messages.success(request, f"Deleted the endpoint {endpoint.url} and its deliveries.")
    return redirect(back)


@login_required
@require_POST
def endpoint_test(request, pk, endpoint_id):
    """Queue a test event (ping) to one endpoint: the worker sends it."""
    endpoint, back = _endpoint(request, pk, endpoint_id, enabled=True)
    throttle.count_for(request, f"team:{endpoint.team_id}", "webhook-test", back)
    with transaction.atomic():
        webhooks.ping(endpoint, request.user)
    messages.success(request, f"A test event is on its way to {endpoint.url}.")
    return redirect(back)


def _invitations(request, team):
    """The team's open invitations, each with its link while it is unused (None for one
    addressed by name), the one just made marked new."""
    made = request.session.pop("invitation-made", None)
    rows = []
    for invitation in team.invitations.open().select_related("created_by"):
        path = invitation_path(invitation)
        rows.append(
            {
                "invitation": invitation,
                "link": request.build_absolute_uri(path) if path else None,
                "new": invitation.pk == made,
            }
        )
    return rows


@login_required
@require_POST
def member_role(request, pk, user_id):
    team, _ = team_for(request.user, pk, "manage")
    membership = get_object_or_404(team.memberships, user_id=user_id)
    role = request.POST.get("role")
    if role not in Role.values:
        messages.error(request, "Pick owner, editor or viewer.")
    elif membership.role == Role.OWNER and role != Role.OWNER and _last_owner(team):
        messages.error(request, "A team needs an owner: make someone else owner first.")
    else:
        membership.role = role
        membership.save(update_fields=["role"])
        messages.success(request, f"{membership.user.get_username()} is now {role}.")
    return redirect("team-detail", pk=pk)


@login_required
@require_POST
def member_remove(request, pk, user_id):
    team, _ = team_for(request.user, pk, "manage")
    membership = get_object_or_404(team.memberships, user_id=user_id)
    if membership.role == Role.OWNER and _last_owner(team):
        messages.error(request, "A team needs an owner: make someone else owner first.")
    else:
        membership.delete()
        messages.success(request, f"{membership.user.get_username()} left {team.name}.")
    return redirect("team-detail", pk=pk)


@login_required
@require_POST
def team_leave(request, pk):
    team, role = team_for(request.user, pk)
    if role == Role.OWNER and _last_owner(team):
        messages.error(request, "You are its only owner: make someone else owner first.")
        return redirect("team-detail", pk=pk)
    team.memberships.filter(user=request.user).delete()
    messages.success(request, f"You left {team.name}.")
    return redirect("team-list")


def _last_owner(team):
    return team.memberships.filter(role=Role.OWNER).count() <= 1


@login_required
@require_POST
def invitation_create(request, pk):
    """Invite by naming someone who has an account, or by a link to send."""
    team, _ = team_for(request.user, pk, "manage")
    form = InviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick a role.")
        return redirect("team-detail", pk=pk)
    role, username = form.cleaned_data["role"], form.cleaned_data["username"].strip()
    if username:
        # Nobody joins without saying yes, and the answer is the same whether anyone has
        # the name: an invitation waits for it either way (members are listed already).
        if team.memberships.filter(user__username=username).exists():
            messages.info(request, f"{username} is already a member.")
            return redirect("team-detail", pk=pk)
        waiting = team.invitations.open().filter(invitee_name=username)
        if not waiting.update(role=role):
            Invitation.make(team, role, request.user, invitee_name=username)
        messages.success(
            request,
            f"Invited {username} as {role}: whoever has that user name finds the invitation "
            "on their Teams page, for seven days.",
        )
        return redirect("team-detail", pk=pk)
    invitation, _ = Invitation.make(team, role, request.user)
    # The team page shows its link, marked new, and again while it is open.
    request.session["invitation-made"] = invitation.pk
    messages.success(
        request, f"Invited as {role}: send the new link; it works once, for seven days."
    )
    return redirect("team-detail", pk=pk)


@login_required
@require_POST
def invitation_revoke(request, pk, invitation_id):
    team, _ = team_for(request.user, pk, "manage")
    invitation = get_object_or_404(team.invitations, pk=invitation_id)
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    messages.success(request, "That invitation no longer works.")
    return redirect("team-detail", pk=pk)


def _open_invitation(token):
    """The open invitation a link names, or 404: expired, used, revoked or forged alike."""
    try:
        value = signing.loads(token, salt=INVITATION_SALT, max_age=Invitation.lifetime())
    except signing.BadSignature:
        raise Http404 from None
    invitation = Invitation.objects.select_related("team").filter(pk=value.get("i")).first()
    if invitation is None or not invitation.is_open or not invitation.matches(value.get("s", "")):
        raise Http404
    return invitation


def invitation(request, token):
    """Opening an invitation: sign up, or sign in, and join the team with its role."""
    invitation = _open_invitation(token)
    if request.user.is_authenticated and request.method == "POST" and "join" in request.POST:
        return _accept(request, invitation, request.user)
    # Both forms ask for a user name: ids of their own, so that each label names one field.
    signup = UserCreationForm(
        request.POST if "signup" in request.POST else None, auto_id="id_signup_%s"
    )
    signin = AuthenticationForm(
        request, request.POST if "signin" in request.POST else None, auto_id="id_signin_%s"
    )
    if request.method == "POST" and "signup" in request.POST and signup.is_valid():
        user = signup.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return _accept(request, invitation, user)
    if request.method == "POST" and "signin" in request.POST and signin.is_valid():
        login(request, signin.get_user())
        return _accept(request, invitation, signin.get_user())
    context = {"invitation": invitation, "signup": signup, "signin": signin}
    return render(
        request, "teams/invitation.html", context, status=400 if request.method == "POST" else 200
    )


def _accept(request, invitation, user):
    # Who answers may have signed up or in by this very request: the change is theirs,
    # not the anonymous visitor's the request began as.
    with set_actor(user), transaction.atomic():
        claimed = Invitation.objects.filter(pk=invitation.pk, used_at=None, revoked_at=None).update(
            used_at=timezone.now(), used_by=user
        )
        if not claimed:
            raise Http404
        try:
            with transaction.atomic():
                Membership.objects.create(team=invitation.team, user=user, role=invitation.role)
        except IntegrityError:
            messages.info(request, f"You were already in {invitation.team.name}.")
        else:
            messages.success(request, f"Welcome to {invitation.team.name}, as {invitation.role}.")
    return redirect("project-list")
