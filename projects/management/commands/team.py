"""`team create | add | remove`: teams from the command line, for admins and scripts."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.db import transaction

from projects.management.base import DataCommand
from projects.models import Membership, Role, Team


class Command(DataCommand):
    help = "Make a team, add a member with a role, or remove one."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Make a team with its first owner.")
        create.add_argument("name")
        create.add_argument("--owner", required=True, help="Username of its first owner.")
        add = sub.add_parser("add", help="Add a member, or change their role.")
        add.add_argument("name")
        add.add_argument("user")
        add.add_argument("--role", choices=Role.values, default=Role.EDITOR)
        remove = sub.add_parser("remove", help="Remove a member.")
        remove.add_argument("name")
        remove.add_argument("user")

    def handle(self, *args, action, **options):
        getattr(self, f"do_{action}")(**options)

    def do_create(self, name, owner, **_):
        user = _user(owner)
        if Team.objects.filter(name=name).exists():
            raise CommandError(f"A team is already called {name!r}.")
        with transaction.atomic():
            team = Team.objects.create(name=name)
            Membership.objects.create(team=team, user=user, role=Role.OWNER)
        self.stdout.write(f"Made {name!r}, owned by {owner}.")
        self.stdout.write(str(team.pk))

    def do_add(self, name, user, role, **_):
        team, member = _team(name), _user(user)
        membership, made = Membership.objects.get_or_create(
            team=team, user=member, defaults={"role": role}
        )
        if not made and membership.role != role:
            if membership.role == Role.OWNER and _last_owner(team):
                raise CommandError(f"{user} is {name}'s only owner: add another owner first.")
            membership.role = role
            membership.save(update_fields=["role"])
        self.stdout.write(f"{user} is {role} of {name!r}.")

    def do_remove(self, name, user, **_):
        team, member = _team(name), _user(user)
        membership = team.memberships.filter(user=member).first()
        if membership is None:
            raise CommandError(f"{user} is not a member of {name!r}.")
        if membership.role == Role.OWNER and _last_owner(team):
            raise CommandError(f"{user} is {name}'s only owner: add another owner first.")
        membership.delete()
        self.stdout.write(f"{user} left {name!r}.")


def _user(username):
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"No user named {username!r}.")
    return user


def _team(name):
    teams = Team.objects.filter(name=name)
    if not teams:
        raise CommandError(f"No team named {name!r}.")
    if len(teams) > 1:
        raise CommandError(f"{len(teams)} teams are named {name!r}: rename one in the app.")
    return teams[0]


def _last_owner(team):
    return team.memberships.filter(role=Role.OWNER).count() <= 1
