"""Tiny factories for test data: a user, a project with shots."""

from django.contrib.auth import get_user_model

from projects.models import Opening, Project, Shot, Team


def make_user(username="ada", password="pw-for-tests"):
    user = get_user_model().objects.create_user(username, password=password)
    Team.default_for(user)
    return user


def make_project(user, shots=(), **settings):
    """A project of `user`'s team; shots are (prompt, opening) pairs or dicts."""
    settings = {"title": "Autumn valley", "resolution": "480p", "ratio": "16:9", **settings}
    project = Project.objects.create(team=Team.default_for(user), created_by=user, **settings)
    for position, spec in enumerate(shots):
        if isinstance(spec, tuple):
            prompt, opening = spec
            spec = {"prompt": prompt, "opening": opening}
        spec = {"duration": 4, "opening": Opening.CONTINUE if position else Opening.CUT, **spec}
        Shot.objects.create(project=project, position=position, **spec)
    return project
