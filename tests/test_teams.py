"""Teams in the app: invitations, members and roles, comments and mentions, verdicts,
budgets, activity, edits that never overwrite each other, and the command line."""

from datetime import timedelta
from html import escape

import pytest
from django.core import signing
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from projects import activity, costs, limits
from projects.models import (
    Comment,
    Invitation,
    Link,
    Membership,
    Mention,
    Project,
    Role,
    Spend,
    Take,
    Team,
    Verdict,
)
from projects.views.teams import INVITATION_SALT
from tests.factories import make_project, make_take, make_user
from tests.pages import submit

pytestmark = pytest.mark.django_db


def join(user, team, role):
    Membership.objects.create(team=team, user=user, role=role)
    return user


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def invitation_link(client, team, role="editor"):
    """An owner makes an invitation link on the team page, as they would."""
    client.post(reverse("invitation-create", args=[team.pk]), {"role": role})
    page = client.get(reverse("team-detail", args=[team.pk])).content.decode()
    start = page.index('id="invitation-link"')
    value = page.rindex('value="', 0, start) + len('value="')
    return page[value : page.index('"', value)]


def test_a_team_is_made_in_the_app_and_its_maker_owns_it(user):
    client = signed_in(user)
    response = client.post(reverse("team-list"), {"name": "Night crew"})
    team = Team.objects.get(name="Night crew")
    assert response["Location"] == reverse("team-detail", args=[team.pk])
    assert team.role_of(user) == Role.OWNER


def test_an_invitation_link_signs_up_a_newcomer_once(user):
    team = Team.default_for(user)
    link = invitation_link(signed_in(user), team, "viewer")
    newcomer = Client()
    page = newcomer.get(link)
    assert page.status_code == 200 and "as <strong>viewer</strong>" in page.content.decode()

    newcomer.post(
        link,
        {
            "signup": "1",
            "username": "zoe",
            "password1": "a long pass phrase",
            "password2": "a long pass phrase",
        },
    )

    zoe = Membership.objects.get(team=team, user__username="zoe")
    assert zoe.role == Role.VIEWER
    # Told as hers, though she was nobody when the request began (the team, made here
    # outside any request, is the command line's).
    said = [(line.who, line.what) for line in activity.of_team(team)]
    assert said[0] == ("zoe", "joined as viewer")
    assert Client().get(link).status_code == 404  # used once: now it opens nothing


def test_an_invitation_signs_in_someone_with_an_account(user):
    team = Team.default_for(user)
    make_user("bob", password="bobs pass phrase")
    link = invitation_link(signed_in(user), team, "editor")
    Client().post(link, {"signin": "1", "username": "bob", "password": "bobs pass phrase"})
    assert team.memberships.get(user__username="bob").role == Role.EDITOR


def test_invitations_expire_can_be_revoked_and_cannot_be_forged(user):
    team = Team.default_for(user)
    invitation, secret = Invitation.make(team, Role.EDITOR, user)
    good = signing.dumps({"i": invitation.pk, "s": secret}, salt=INVITATION_SALT)
    forged = signing.dumps({"i": invitation.pk, "s": "guess"}, salt=INVITATION_SALT)
    assert Client().get(reverse("invitation", args=[good])).status_code == 200
    assert Client().get(reverse("invitation", args=[forged])).status_code == 404
    assert Client().get(reverse("invitation", args=[good + "x"])).status_code == 404

    invitation.revoked_at = timezone.now()
    invitation.save()
    assert Client().get(reverse("invitation", args=[good])).status_code == 404

    later, secret = Invitation.make(team, Role.EDITOR, user)
    Invitation.objects.filter(pk=later.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    old = signing.dumps({"i": later.pk, "s": secret}, salt=INVITATION_SALT)
    assert Client().get(reverse("invitation", args=[old])).status_code == 404
    assert invitation.secret_digest != secret  # only a digest is kept


def team_page(client, team):
    return client.get(reverse("team-detail", args=[team.pk]))


def test_an_open_invitation_link_is_given_again_until_it_is_used(user):
    team = Team.default_for(user)
    owner = signed_in(user)
    link = invitation_link(owner, team, "viewer")
    invitation = Invitation.objects.get(team=team)
    # On every later visit to the team page, the same link, to copy again.
    for _ in range(2):
        page = team_page(owner, team)
        assert page["Cache-Control"] and "no-store" in page["Cache-Control"]
        html = page.content.decode()
        assert html.count(link) == 1
        assert f'id="invitation-link-{invitation.pk}"' in html
        assert f'data-copy="invitation-link-{invitation.pk}"' in html
    # Kept only as a seed and a digest: neither is the secret, nor in the link.
    secret = invitation.secret()
    assert secret and secret not in (invitation.secret_seed, invitation.secret_digest)
    assert invitation.secret_seed not in link and invitation.secret_digest not in link

    Client().post(
        link,
        {
            "signup": "1",
            "username": "zoe",
            "password1": "a long pass phrase",
            "password2": "a long pass phrase",
        },
    )
    html = team_page(owner, team).content.decode()
    assert link not in html and "invitation-link" not in html
    used = Invitation.objects.get(pk=invitation.pk).used_at
    assert f'used by <strong>zoe</strong> on <time datetime="{used.isoformat()}">' in html
    assert Client().get(link).status_code == 404


def test_only_who_may_invite_sees_the_links_again(user):
    team = Team.default_for(user)
    invitation_link(signed_in(user), team)
    secret = Invitation.objects.get(team=team).secret()
    for role in (Role.EDITOR, Role.VIEWER):
        member = join(make_user(f"a-{role}"), team, role)
        html = team_page(signed_in(member), team).content.decode()
        assert secret not in html and "/invitations/" not in html, role
        assert "Open invitations" not in html


def test_a_link_made_before_seeds_were_kept_is_not_given_again(user):
    team = Team.default_for(user)
    invitation, secret = Invitation.make(team, Role.EDITOR, user)
    Invitation.objects.filter(pk=invitation.pk).update(secret_seed="")
    html = team_page(signed_in(user), team).content.decode()
    assert "Open invitations" in html and "invitation-link" not in html
    # Its first link still works.
    from projects.views.teams import invitation_path

    assert Client().get(invitation_path(invitation, secret)).status_code == 200


def flash(response):
    """What the page said, as its message area shows it."""
    page = response.content.decode()
    area = page[page.index('id="flash"') : page.index("</div>", page.index('id="flash"'))]
    return [line.split(">", 1)[1].split("</p>")[0] for line in area.split("<p ")[1:]]


def test_naming_someone_invites_them_and_tells_nothing_of_who_has_an_account(user):
    team = Team.default_for(user)
    bob = make_user("bob")
    client = signed_in(user)
    url = reverse("invitation-create", args=[team.pk])

    said = {
        name: flash(client.post(url, {"role": "viewer", "username": name}, follow=True))
        for name in ("bob", "nosuchuser")
    }

    assert said["bob"] == [m.replace("nosuchuser", "bob") for m in said["nosuchuser"]]
    assert said["bob"] and "Invited bob as viewer" in said["bob"][0]
    assert team.role_of(bob) is None  # nobody is put in a team without saying yes
    page = client.get(reverse("team-detail", args=[team.pk])).content.decode()
    assert "For bob, as viewer" in page and "For nosuchuser, as viewer" in page
    # Bob finds it on his pages; nobody else can answer it.
    eve = make_user("eve")
    invitation = Invitation.objects.get(invitee_name="bob")
    answer = reverse("invitation-answer", args=[invitation.pk])
    assert signed_in(eve).post(answer, {"join": "1"}).status_code == 404
    assert team.role_of(eve) is None
    theirs = signed_in(bob)
    for page in (reverse("team-list"), reverse("project-list")):
        html = theirs.get(page).content.decode()
        assert f"invites you to {escape(team.name)} as viewer" in html
        assert f'action="{answer}"' in html
    assert theirs.post(answer, {"join": "1"}).status_code == 302
    assert team.role_of(bob) == Role.VIEWER
    assert theirs.post(answer, {"join": "1"}).status_code == 404  # once
    # Declined, it is gone.
    cy = make_user("cy")
    client.post(url, {"role": "editor", "username": "cy"})
    declined = Invitation.objects.get(invitee_name="cy")
    signed_in(cy).post(reverse("invitation-answer", args=[declined.pk]), {"decline": "1"})
    assert team.role_of(cy) is None and not Invitation.objects.for_user(cy).exists()


def test_an_owner_changes_roles_and_removes_members(user):
    team = Team.default_for(user)
    bob = join(make_user("bob"), team, Role.VIEWER)
    client = signed_in(user)
    client.post(reverse("member-role", args=[team.pk, bob.pk]), {"role": "editor"})
    assert team.role_of(bob) == Role.EDITOR
    client.post(reverse("member-remove", args=[team.pk, bob.pk]))
    assert team.role_of(bob) is None


def test_a_team_keeps_an_owner(user):
    team = Team.default_for(user)
    client = signed_in(user)
    client.post(reverse("team-leave", args=[team.pk]))
    client.post(reverse("member-role", args=[team.pk, user.pk]), {"role": "viewer"})
    assert team.role_of(user) == Role.OWNER


def test_a_member_leaves_and_sees_the_team_no_more(user):
    team = Team.default_for(user)
    bob = join(make_user("bob"), team, Role.EDITOR)
    project = make_project(user)
    client = signed_in(bob)
    assert client.get(project.get_absolute_url()).status_code == 200
    client.post(reverse("team-leave", args=[team.pk]))
    assert client.get(project.get_absolute_url()).status_code == 404


def test_the_project_list_is_grouped_by_team_and_a_project_moves_between_them(user):
    first = Team.default_for(user)
    other = Team.objects.create(name="Night crew")
    join(user, other, Role.EDITOR)
    project = make_project(user, title="Harbour")
    make_project(user, title="Lighthouse").__class__.objects.filter(title="Lighthouse").update(
        team=other
    )
    client = signed_in(user)
    page = client.get(reverse("project-list")).content.decode()
    groups = {
        section.split("</a>")[0].rsplit(">", 1)[1]: section
        for section in page.split('<section class="team-group"')[1:]
    }
    mine = groups[escape(first.name)]
    assert "Harbour" in mine and "Lighthouse" not in mine
    assert "Lighthouse" in groups["Night crew"]

    client.post(reverse("project-move", args=[project.pk]), {"team": other.pk})
    assert Project.objects.get(pk=project.pk).team == other


def test_an_editor_cannot_move_a_project_out_of_a_team_they_do_not_own(user):
    team = Team.default_for(user)
    bob = join(make_user("bob"), team, Role.EDITOR)
    elsewhere = Team.default_for(make_user("cy"))
    join(bob, elsewhere, Role.OWNER)
    project = make_project(user)
    signed_in(bob).post(reverse("project-move", args=[project.pk]), {"team": elsewhere.pk})
    assert Project.objects.get(pk=project.pk).team == team


def test_comments_mention_members_into_their_inbox(user):
    team = Team.default_for(user)
    bob = join(make_user("bob"), team, Role.VIEWER)
    project = make_project(user, shots=[("A lighthouse", "cut")])
    shot = project.shots.get()
    take = make_take(shot)

    signed_in(bob).post(
        reverse("comment-create", args=[project.pk, shot.pk]),
        {"body": "@ada the beam is late; @nobody", "take": take.pk},
    )

    comment = Comment.objects.get()
    assert (comment.author, comment.take) == (bob, take)
    mention = Mention.objects.get()
    assert mention.user == user
    client = signed_in(user)
    inbox = client.get(reverse("project-list")).content.decode()
    assert "bob</strong> mentioned you on shot 1" in inbox
    opened = client.post(reverse("mention", args=[mention.pk]))
    assert opened["Location"].endswith(f"#shot-{shot.pk}")
    assert "mentioned you" not in client.get(reverse("project-list")).content.decode()


def test_mentions_leave_the_inbox_with_the_team(user):
    team = Team.default_for(user)
    bob = join(make_user("bob"), team, Role.VIEWER)
    project = make_project(user, title="Harbour heist", shots=[("A lighthouse", "cut")])
    shot = project.shots.get()
    comment = reverse("comment-create", args=[project.pk, shot.pk])
    signed_in(user).post(comment, {"body": "@bob the vault code is 4711"})
    mention = Mention.objects.get(user=bob)
    client = signed_in(bob)
    assert "4711" in client.get(reverse("project-list")).content.decode()

    signed_in(user).post(reverse("member-remove", args=[team.pk, bob.pk]))

    inbox = client.get(reverse("project-list")).content.decode()
    assert "4711" not in inbox and "Harbour heist" not in inbox
    assert client.post(reverse("mention", args=[mention.pk])).status_code == 404
    # Back in the team, the inbox is theirs again.
    join(bob, team, Role.VIEWER)
    assert "4711" in client.get(reverse("project-list")).content.decode()


def test_a_review_link_takes_a_name_comments_and_a_verdict_and_nothing_else(user):
    project = make_project(user, shots=[("A lighthouse", "cut")])
    shot = project.shots.get()
    take = make_take(shot)
    link = Link.make(project, Link.Kind.REVIEW)
    guest = Client()
    page = guest.get(reverse("shared-project", args=[link.token]))
    assert "Say who you are" in page.content.decode()

    guest.post(reverse("shared-guest-name", args=[link.token]), {"name": "Rey"})
    guest.post(reverse("shared-comment-create", args=[link.token, shot.pk]), {"body": "Lovely"})
    guest.post(
        reverse("shared-take-verdict", args=[link.token, take.pk]),
        {"verdict": Verdict.NEEDS_CHANGES},
    )

    assert Comment.objects.get().who == "Rey (guest)"
    take.refresh_from_db()
    assert (take.verdict, take.verdict_by) == (Verdict.NEEDS_CHANGES, "Rey")
    # Nothing else: not even a shot's edit, under the link or the project's own address.
    assert guest.post(reverse("shared-project", args=[link.token])).status_code == 405
    assert guest.post(reverse("shot-delete", args=[project.pk, shot.pk])).status_code == 302
    assert project.shots.exists()


def test_a_view_link_cannot_comment(user):
    project = make_project(user, shots=[("A lighthouse", "cut")])
    link = Link.make(project, Link.Kind.VIEW)
    url = reverse("shared-comment-create", args=[link.token, project.shots.get().pk])
    assert Client().post(url, {"body": "Hi"}).status_code == 404


def test_a_team_budget_refuses_generation_before_anything_is_sent(user, settings):
    settings.SEEDANCE_BASE_URL = ""
    team = Team.default_for(user)
    per_clip = costs.tokens_for("480p", "16:9", 4)
    team.monthly_budget_tokens = per_clip + 10
    team.save()
    one = make_project(user, shots=[("A", "cut")])
    make_take(one.shots.get(), tokens=per_clip)  # billed this month
    two = make_project(user, shots=[("B", "cut")])
    take = Take.objects.create(shot=two.shots.get(), number=1, inputs=two.shots.get().inputs())

    claim = limits.claim(take, refuse=costs.over_budget)

    assert not claim.claimed
    take.refresh_from_db()
    assert take.status == Take.Status.FAILED
    assert f"{team.name}'s budget for {timezone.now():%B} has 10 left" in take.error
    # Last month's spend does not count.
    Spend.objects.filter(project=one).update(billed_at=timezone.now() - timedelta(days=40))
    assert costs.over_budget(take) == ""


def test_the_team_page_shows_this_months_spend_by_project_and_person(user):
    team = Team.default_for(user)
    bob = join(make_user("bob"), team, Role.EDITOR)
    project = make_project(user, title="Harbour", shots=[("A", "cut"), ("B", "cut")])
    first, second = project.shots.in_order()
    make_take(first, tokens=1000, requested_by=user)
    make_take(second, tokens=3000, requested_by=bob)
    spend = costs.team_spend(team)
    assert spend["total"] == 4000
    assert spend["by_project"] == [("Harbour", 4000)]
    assert spend["by_person"] == [("bob", 3000), ("ada", 1000)]
    page = signed_in(bob).get(reverse("team-detail", args=[team.pk])).content.decode()
    assert "4,000" in page and "3,000" in page


def test_deleting_a_project_never_lowers_the_teams_spend_nor_frees_its_budget(user, settings):
    settings.SEEDANCE_BASE_URL = ""
    team = Team.default_for(user)
    project = make_project(user, title="Harbour", shots=[("A", "cut"), ("B", "cut")])
    first, second = project.shots.in_order()
    make_take(first, tokens=1000)
    make_take(second, tokens=3000)

    project.delete()

    spend = costs.team_spend(team)
    assert spend["total"] == 4000
    assert spend["by_project"] == [("Harbour (deleted)", 4000)]
    team.monthly_budget_tokens = 4000 + costs.tokens_for("480p", "16:9", 4) - 1
    team.save()
    again = make_project(user, shots=[("C", "cut")])
    take = Take.objects.create(shot=again.shots.get(), number=1, inputs=again.shots.get().inputs())
    assert "has" in costs.over_budget(take) and "left of" in costs.over_budget(take)


def test_the_second_of_two_editors_is_told_who_changed_what(user):
    team = Team.default_for(user)
    bob = join(make_user("bob"), team, Role.EDITOR)
    project = make_project(user, shots=[("A lighthouse at dusk", "cut")])
    shot = project.shots.get()
    url = reverse("shot-edit", args=[project.pk, shot.pk])
    ada_client, bob_client = signed_in(user), signed_in(bob)
    ada_page, bob_page = ada_client.get(url), bob_client.get(url)

    submit(ada_client, ada_page, url, prompt="A lighthouse at night", duration="4", opening="cut")
    refused = submit(
        bob_client, bob_page, url, prompt="A lighthouse in fog", duration="6", opening="cut"
    )

    assert refused.status_code == 409
    text = refused.content.decode()
    assert "Changed by ada a moment ago" in text
    assert "A lighthouse at dusk" in text and "A lighthouse at night" in text
    shot.refresh_from_db()
    assert shot.prompt == "A lighthouse at night"  # not overwritten
    # Saving again, having seen theirs, is a choice: it goes through.
    again = submit(
        bob_client, refused, url, prompt="A lighthouse in fog", duration="6", opening="cut"
    )
    assert again.status_code == 302
    shot.refresh_from_db()
    assert (shot.prompt, shot.edited_by) == ("A lighthouse in fog", bob)


def test_project_settings_are_not_overwritten_either(user):
    team = Team.default_for(user)
    bob = join(make_user("bob"), team, Role.EDITOR)
    project = make_project(user)
    url = reverse("project-settings", args=[project.pk])
    ada_client, bob_client = signed_in(user), signed_in(bob)
    ada_page, bob_page = ada_client.get(url), bob_client.get(url)
    fields = {"resolution": "480p", "ratio": "16:9"}
    submit(ada_client, ada_page, url, title="Harbour", **fields)
    refused = submit(bob_client, bob_page, url, title="Lighthouse", **fields)
    assert refused.status_code == 400 and "Changed by ada" in refused.content.decode()
    assert Project.objects.get(pk=project.pk).title == "Harbour"


def test_the_activity_of_a_whole_flow_is_kept_and_told(user):
    team = Team.default_for(user)
    bob = join(make_user("bob"), team, Role.EDITOR)
    client = signed_in(bob)
    project = make_project(user, shots=[("A", "cut")])
    shot = project.shots.get()
    client.post(
        reverse("shot-edit", args=[project.pk, shot.pk]),
        {"prompt": "B", "duration": 4, "opening": "cut", "version": 1},
    )
    client.post(reverse("project-generate", args=[project.pk]))
    take = make_take(shot, select=False)
    client.post(reverse("take-select", args=[project.pk, take.pk]))
    client.post(reverse("comment-create", args=[project.pk, shot.pk]), {"body": "ok"})
    client.post(reverse("link-create", args=[project.pk]), {"kind": "review", "expires": "7"})
    link = project.links.get()
    client.post(reverse("link-revoke", args=[project.pk, link.pk]))

    lines = [f"{line.who} {line.what}" for line in activity.of_project(project)]
    for expected in (
        "bob edited shot 1 (prompt)",
        "bob generated shot 1",
        "bob picked another take of shot 1",
        "bob commented on shot 1",
        "bob made a review link",
        "bob revoked a link",
    ):
        assert expected in lines, lines
    page = client.get(reverse("project-settings", args=[project.pk])).content.decode()
    assert "generated shot 1" in page


def test_the_team_command_makes_adds_and_removes(user, capsys):
    make_user("bob")
    call_command("team", "create", "Night crew", "--owner", "ada")
    call_command("team", "add", "Night crew", "bob", "--role", "viewer")
    team = Team.objects.get(name="Night crew")
    assert team.role_of(user) == Role.OWNER
    assert team.memberships.get(user__username="bob").role == Role.VIEWER
    call_command("team", "remove", "Night crew", "bob")
    assert not team.memberships.filter(user__username="bob").exists()
    with pytest.raises(CommandError, match="only owner"):
        call_command("team", "remove", "Night crew", "ada")
    with pytest.raises(CommandError, match="No user named"):
        call_command("team", "add", "Night crew", "nobody")


def test_import_puts_a_project_in_the_team_named(user, tmp_path):
    call_command("team", "create", "Night crew", "--owner", "ada")
    board = tmp_path / "board.json"
    board.write_text('{"title": "Harbour", "shots": [{"prompt": "A", "duration": 4}]}')
    call_command("storyboard", "import", str(board), "--owner", "ada", "--team", "Night crew")
    assert Project.objects.get(title="Harbour").team.name == "Night crew"
    call_command("storyboard", "import", str(board), "--owner", "ada")
    assert Project.objects.filter(title="Harbour", team=Team.default_for(user)).exists()
    make_user("bob")
    with pytest.raises(CommandError, match="makes no projects"):
        call_command("storyboard", "import", str(board), "--owner", "bob", "--team", "Night crew")
