"""Rows the live timeline follows: every write stamps when it happened."""

from django.db import models
from django.utils import timezone


class TrackedQuerySet(models.QuerySet):
    """Every update stamps `updated_at`, so the live timeline finds each change by it."""

    def update(self, **fields):
        fields.setdefault("updated_at", timezone.now())
        return super().update(**fields)


class Tracked(models.Model):
    """A row the live timeline follows: any save, even of a few fields, stamps `updated_at`."""

    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    objects = TrackedQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, update_fields=None, **kwargs):
        if update_fields is not None:
            update_fields = {*update_fields, "updated_at"}
        super().save(*args, update_fields=update_fields, **kwargs)
