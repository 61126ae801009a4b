"""Comments on shots, each about the take it was written on, and the members they mention."""

import re

from django.conf import settings
from django.db import models

from .tracking import Tracked

MENTION = re.compile(r"(?<![\w@])@([\w.+-]+)")


class Comment(Tracked):
    shot = models.ForeignKey("Shot", on_delete=models.CASCADE, related_name="comments")
    take = models.ForeignKey(
        "Take", null=True, blank=True, on_delete=models.SET_NULL, related_name="comments"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # A review link's holder has no account: the name they gave.
    guest_name = models.CharField(max_length=80, blank=True)
    link = models.ForeignKey("Link", null=True, blank=True, on_delete=models.SET_NULL)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"Comment by {self.who} on {self.shot}"

    def get_additional_data(self):
        shot = self.shot
        return {"project": shot.project_id, "shot": shot.number, "guest": self.guest_name}

    @property
    def who(self):
        return self.author.get_username() if self.author else f"{self.guest_name} (guest)"

    def mentioned_names(self):
        return set(MENTION.findall(self.body))


class Mention(models.Model):
    """A member named in a comment: it waits in their inbox until read."""

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="mentions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mentions"
    )
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-comment__created_at"]
        constraints = [
            models.UniqueConstraint(fields=["comment", "user"], name="one_mention_per_comment"),
        ]

    def __str__(self):
        return f"{self.user} in {self.comment}"
