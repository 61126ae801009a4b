"""Teams: who works together, and what each member may do."""

from django.conf import settings
from django.db import models


class Team(models.Model):
    name = models.CharField(max_length=200)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name

    @classmethod
    def default_for(cls, user):
        """The team a user's new projects belong to: their first, or a personal one."""
        team = user.teams.order_by("id").first()
        if team is None:
            team = cls.objects.create(name=f"{user.get_username()}'s team")
            team.members.add(user)
        return team
