"""A workplace with something on every page, for the checks that visit them all.

`seed()` runs inside a live app (`manage.py shell`) and prints, as JSON, the addresses
and accounts the checks need: a project whose shots are in every state a card shows
(two done takes with a verdict and comments, a stale continue, a failed take beside an
uncertain final, a cancelled one, a draft with finals beside it, one never generated), a
finished export and a failed one, links of both kinds, an open invitation, an inbox with a
mention and an invitation by name, and a viewer who is refused a page.
"""

import json

from django.core import signing
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from projects.models import (
    CastImage,
    CastMember,
    Comment,
    Connection,
    Export,
    Invitation,
    Kind,
    Link,
    Membership,
    Mention,
    Role,
    Shot,
    Take,
    Team,
)
from projects.views.teams import INVITATION_SALT
from tests.factories import cached_clip, make_project, make_take, make_user

OWNER = "demo"
VIEWER, VIEWER_PASSWORD = "vera", "a long pass phrase for vera"


def seeded(live, viewer=VIEWER, delay=None):
    """Seed a LiveApp (tests.live), or an Account of a shared one, for its user, with
    `viewer` the name of the viewer it makes (and `delay`, see seed()); return what seed()
    printed."""
    code = f"from tests.every_page import seed; seed({live.username!r}, {viewer!r}, {delay!r})"
    said = live.manage("shell", "-c", code)
    return json.loads(said.strip().splitlines()[-1])


def seed(owner=OWNER, viewer_name=VIEWER, delay=None):
    """The workplace, for `owner`; with `delay`, the shot never generated takes the
    simulator that many seconds when it is ([sim:delay=N] in its prompt)."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=owner)
    team = Team.default_for(user)
    slow = f" [sim:delay={delay}]" if delay is not None else ""
    project = make_project(
        user,
        [
            ("A lighthouse on a cliff at dusk, waves below", "cut"),
            ("The beam sweeps over the dark water", "continue"),
            ("A fishing boat rounds the headland", "cut"),
            ("Gulls lift off the harbour wall", "cut"),
            ("The boat ties up as the lamps come on", "cut"),
            ("Morning: the harbour empty and still" + slow, "cut"),
        ],
        title="Harbour lights",
    )
    first, second, third, fourth, fifth, sixth = project.shots.in_order()
    # A cast member, picked for the shot never generated: a chip with a thumbnail.
    keeper = CastMember.objects.create(
        project=project, name="Keeper", description="An old lighthouse keeper in oilskins"
    )
    CastImage.objects.create(member=keeper, file=ContentFile(_picture(), name="keeper.png"))
    sixth.cast.add(keeper)
    make_take(first, select=False)
    take = make_take(first)
    take.verdict, take.verdict_by, take.verdict_at = "approved", owner, timezone.now()
    take.save()
    Comment.objects.create(shot=first, take=take, author=user, body="The second take holds.")
    make_take(second, upstream=take)
    # Changed since: stale.
    Shot.objects.filter(pk=second.pk).update(prompt="The beam sweeps slowly over the water")
    failed = {"status": Take.Status.FAILED, "error": "The provider refused the prompt."}
    Take.objects.create(shot=third, number=1, inputs=third.inputs(), remote_id="cgt-1", **failed)
    Take.objects.create(  # a final whose create got no sure answer: a person decides
        shot=third,
        number=2,
        kind=Kind.FINAL,
        inputs=third.inputs(Kind.FINAL),
        status=Take.Status.UNCERTAIN,
        submitted_at=timezone.now(),
        note="The create got no sure answer (it timed out); it is not sent again.",
        error="The provider cannot list its tasks, so its task cannot be found. The gateway "
        "may have made this shot; check its console before sending again.",
    )
    Take.objects.create(shot=fourth, number=1, inputs=fourth.inputs(), status=Take.Status.CANCELLED)
    make_take(fifth)
    # Two finals of shot 5, the second failed: draft and final side by side, and a pick.
    make_take(fifth, kind=Kind.FINAL, inputs=fifth.inputs(Kind.FINAL))
    Take.objects.create(
        shot=fifth,
        number=3,
        kind=Kind.FINAL,
        inputs=fifth.inputs(Kind.FINAL),
        status=Take.Status.FAILED,
        error="The provider timed out.",
    )

    video = cached_clip()[0]
    done = Export.objects.create(
        project=project,
        status=Export.Status.DONE,
        progress=1.0,
        takes=[take.pk],
        mode="copy",
        duration=4.0,
        created_by=user,
        finished_at=timezone.now(),
    )
    done.file.save("cut.mp4", ContentFile(video))
    Export.objects.create(
        project=project,
        status=Export.Status.FAILED,
        takes=[take.pk],
        error="A take's file is missing.",
        created_by=user,
    )

    viewer = make_user(viewer_name, password=VIEWER_PASSWORD)
    Membership.objects.create(team=team, user=viewer, role=Role.VIEWER)
    # A gateway connection of the team's own, not its default, paused: its key was refused.
    gateway = Connection(team=team, name="Own gateway", preset="byteplus", created_by=user)
    gateway.set_key("sk-every-page-0042")
    gateway.save()
    gateway.pause("the gateway refused its key (401).")
    # The owner's inbox: a mention, and an invitation by name to the viewer's own team.
    asked = Comment.objects.create(shot=first, author=viewer, body=f"@{owner} is it too fast?")
    Mention.objects.create(comment=asked, user=user)
    Invitation.make(Team.default_for(viewer), Role.EDITOR, viewer, invitee_name=owner)
    view_link = Link.make(project, Link.Kind.VIEW, created_by=user)
    review_link = Link.make(project, Link.Kind.REVIEW, created_by=user)
    invitation, secret = Invitation.make(team, Role.EDITOR, user)
    token = signing.dumps({"i": invitation.pk, "s": secret}, salt=INVITATION_SALT)

    print(
        json.dumps(
            {
                "project": project.get_absolute_url(),
                "settings": reverse("project-settings", args=[project.pk]),
                "shot_edit": reverse("shot-edit", args=[project.pk, first.pk]),
                "cast": reverse("cast-list", args=[project.pk]),
                "cast_edit": reverse("cast-edit", args=[project.pk, keeper.pk]),
                "never_generated": sixth.pk,
                "team": reverse("team-detail", args=[team.pk]),
                "view_link": reverse("shared-project", args=[view_link.token]),
                "review_link": reverse("shared-project", args=[review_link.token]),
                "invitation": reverse("invitation", args=[token]),
                "viewer": [viewer_name, VIEWER_PASSWORD],
            }
        )
    )


def _picture():
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (400, 320), (60, 70, 90)).save(out, "PNG")
    return out.getvalue()


# The app tests/test_browser.py and tests/test_browser_axe.py share (tests.conftest
# every_page_app): real-size clips, a simulator that takes 2.5 s a task, and the shot never
# generated 10 s of it, which test_browser_axe generates and checks while it is running.
# Behind a proxy (as deployed, with a key of its own), so that the lock-out test can sign in
# from an address of its own and lock no other test out with it.
EVERY_PAGE_APP = {
    "simulator_delay": 2.5,
    "small": False,
    "env": {"TRUSTED_PROXIES": "1", "SECRET_KEY": "axe-" + "k" * 50},
}
NEVER_GENERATED_DELAY = 10


def every_page_app(folder, template):
    """`manage.py up` in `folder` as EVERY_PAGE_APP says, the workplace seeded (its pages as
    `live.pages`); stopped, with nothing of it left running, when resumed."""
    from tests.live import LiveApp

    live = LiveApp(folder, template=template, **EVERY_PAGE_APP)
    live.start()
    try:
        live.pages = seeded(live, delay=NEVER_GENERATED_DELAY)
        yield live
    finally:
        left = live.stop()
        assert not left, f"processes outlived Ctrl-C of manage.py up: {left}"
