"""A project's cast: the characters, locations and props its shots name as `@Name`.

A cut sends the images of the cast it names as references; a shot that starts on a frame
(a continue, or a cut with a first frame of its own) takes their descriptions only
(projects.cast says how each reaches the prompt).
"""

import re

from django.db import models
from django.db.models.functions import Lower

from .projects import Project
from .tracking import Tracked

# A name is usable as `@Name`: letters, digits, _ and -, starting with a letter or digit.
NAME = r"[^\W_][\w-]*"
NAME_PATTERN = re.compile(rf"^{NAME}\Z")
MENTION = re.compile(rf"(?<![\w@])@({NAME})")


def mentions(prompt):
    """The names a prompt mentions, in the order it first does, each once (by lower case)."""
    seen = {}
    for match in MENTION.finditer(prompt or ""):
        seen.setdefault(match.group(1).lower(), match.group(1))
    return list(seen.values())


def mentioned_order(prompt, members):
    """`members` in the order the prompt names them, then the others as given."""
    order = {name.lower(): i for i, name in enumerate(mentions(prompt))}
    return sorted(members, key=lambda m: order.get(m.name.lower(), len(order)))


def rewrite(prompt, old, new):
    """The prompt with every `@old` (in any case) now `@new`."""
    pattern = re.compile(rf"(?<![\w@])@{re.escape(old)}(?![\w-])", re.IGNORECASE)
    return pattern.sub(lambda match: f"@{new}", prompt)


MAX_NAME = 40
MAX_DESCRIPTION = 500
MIN_IMAGES, MAX_IMAGES = 1, 4


class CastMember(Tracked):
    class Kind(models.TextChoices):
        CHARACTER = "character", "character"
        LOCATION = "location", "location"
        PROP = "prop", "prop"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="cast")
    name = models.CharField(max_length=MAX_NAME)
    kind = models.CharField(max_length=9, choices=Kind.choices, default=Kind.CHARACTER)
    description = models.TextField(max_length=MAX_DESCRIPTION, blank=True)
    # A character's voice, kept with them; never sent (no gateway takes one per character).
    voice = models.FileField(upload_to="cast/voices/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = [Lower("name")]
        constraints = [
            models.UniqueConstraint("project", Lower("name"), name="cast_name_unique_in_project")
        ]

    def __str__(self):
        return self.name

    def get_additional_data(self):
        """What the activity log files this change under (django-auditlog)."""
        return {"project": self.project_id, "member": self.name}

    @property
    def mention(self):
        return f"@{self.name}"

    def image_list(self):
        """Its images in order, from the prefetched set when there is one."""
        return sorted(self.images.all(), key=lambda image: (image.position, image.pk))

    @property
    def thumbnail(self):
        images = self.image_list()
        return images[0] if images else None


class CastImage(models.Model):
    """One picture of a cast member, stored fitted to every provider's limits."""

    member = models.ForeignKey(CastMember, on_delete=models.CASCADE, related_name="images")
    position = models.PositiveSmallIntegerField(default=0)
    file = models.ImageField(upload_to="cast/")

    class Meta:
        ordering = ["member", "position", "id"]

    def __str__(self):
        return f"Image {self.position + 1} of {self.member}"
