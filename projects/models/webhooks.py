"""Webhooks: a team's endpoints, the events sent to them and each delivery's attempts.

An event is written, with a delivery per endpoint that wants it, in the transaction of
the state change it tells (projects.webhooks): a crash never loses one. The worker sends
each delivery until the endpoint answers 2xx, or gives up after a day (retries keep the
event's id, so a receiver can tell a retry from a new event).
"""

import base64
import secrets
import uuid

from django.conf import settings
from django.db import models

SECRET_PREFIX = "whsec_"


def new_secret():
    """A signing secret in the Standard Webhooks format: whsec_ and 24 random bytes in
    base64 (the spec asks for 24 to 64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def new_event_id():
    return f"evt_{uuid.uuid4().hex}"


class Endpoint(models.Model):
    """A URL of a team's that is told of the events it wants, signed with its secret."""

    team = models.ForeignKey("Team", on_delete=models.CASCADE, related_name="endpoints")
    url = models.URLField("URL", max_length=2000)
    events = models.JSONField(default=list, help_text="The event types it wants.")
    # Kept as it is: every delivery is signed with it. Shown to the team once.
    secret = models.CharField(max_length=100, default=new_secret)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return self.url

    def get_additional_data(self):
        return {"team": self.team_id}


class WebhookEvent(models.Model):
    """Something that happened in a team, as every endpoint gets it: the body is written
    once, and the same bytes go out on every attempt."""

    event_id = models.CharField(max_length=40, unique=True, default=new_event_id)
    team = models.ForeignKey("Team", on_delete=models.CASCADE, related_name="webhook_events")
    type = models.CharField(max_length=40)
    body = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.type} {self.event_id}"


class Delivery(models.Model):
    """One event to one endpoint: pending until a 2xx answer, or failed after a day."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        DELIVERED = "delivered", "delivered"
        FAILED = "failed", "failed"

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When it is sent next (a claim pushes it a lease ahead while it is being sent);
    # none once it is delivered or failed.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-event__created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self):
        return f"{self.event} to {self.endpoint}"


class DeliveryAttempt(models.Model):
    """One try: the answer's code, or why there was none (a timeout, a refused address)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="tries")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.status_code or self.error} at {self.at}"

    @property
    def succeeded(self):
        return self.status_code is not None and 200 <= self.status_code < 300
