"""`token create | list | revoke`: access tokens for the JSON API, from the command line.

`token create` prints the secret alone on stdout (what it made goes to stderr), so a
script can keep it: TOKEN=$(manage.py token create ada --team Crew --read-only)."""

from django.core.management.base import CommandError
from django.utils import timezone

from projects.forms import MAX_DAYS
from projects.management.base import DataCommand
from projects.models import AccessToken
from projects.models.tokens import DEFAULT_DAYS

from .team import _team, _user


class Command(DataCommand):
    help = "Make an access token for the JSON API (its secret printed once), list, revoke."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Make a token; prints its secret, this once.")
        create.add_argument("user", help="Username it acts as.")
        create.add_argument("--team", help="The one team it reaches (default: all of theirs).")
        create.add_argument("--read-only", action="store_true", help="It can only look.")
        create.add_argument("--name", default="Command line", help="What it is for.")
        create.add_argument(
            "--days", type=int, default=DEFAULT_DAYS, help=f"Until it expires ({DEFAULT_DAYS})."
        )
        listing = sub.add_parser("list", help="A user's tokens, with their last use.")
        listing.add_argument("user")
        revoke = sub.add_parser("revoke", help="Revoke a token by its id (from `list`).")
        revoke.add_argument("id", type=int)

    def handle(self, *args, action, **options):
        getattr(self, f"do_{action}")(**options)

    def do_create(self, user, team, read_only, name, days, **_):
        owner = _user(user)
        reach = None
        if team is not None:
            reach = _team(team)
            if not reach.memberships.filter(user=owner).exists():
                raise CommandError(f"{user} is not a member of {team!r}.")
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"--days: from 1 to {MAX_DAYS}, as on the account page.")
        token, secret = AccessToken.make(owner, name, reach, read_only, days)
        self.stderr.write(
            f"Made token {token.pk} “{name}” for {user}: {_reach(token)}, until "
            f"{token.expires_at:%Y-%m-%d}. Its secret, shown this once:"
        )
        self.stdout.write(secret)

    def do_list(self, user, **_):
        for token in _user(user).access_tokens.select_related("team"):
            used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            state = (
                "revoked"
                if token.revoked_at
                else "expired"
                if token.expires_at <= timezone.now()
                else f"until {token.expires_at:%Y-%m-%d}"
            )
            self.stdout.write(
                f"{token.pk}\t{token.prefix}…\t{token.name}\t{_reach(token)}\t"
                f"last used {used}\t{state}"
            )

    def do_revoke(self, id, **_):
        token = AccessToken.objects.filter(pk=id).first()
        if token is None:
            raise CommandError(f"No token {id}.")
        token.revoke()
        self.stdout.write(f"Token {id} “{token.name}” no longer works.")


def _reach(token):
    where = token.team.name if token.team else "all their teams"
    return f"{where}, {'read-only' if token.read_only else 'read and write'}"
