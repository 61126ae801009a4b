"""The admin: every row of the product, for operators."""

from django.contrib import admin

from .models import (
    AccessToken,
    Comment,
    Export,
    Invitation,
    Link,
    Membership,
    Project,
    Reference,
    Shot,
    Spend,
    Take,
    Team,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ["user", "role"]
    raw_id_fields = ["user"]
    extra = 0


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "monthly_budget_tokens", "created_at"]
    inlines = [MembershipInline]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = [
        "team",
        "role",
        "invitee_name",
        "created_by",
        "created_at",
        "expires_at",
        "used_by",
    ]
    exclude = ["secret_digest", "secret_seed"]
    readonly_fields = ["used_at", "used_by"]


@admin.register(Link)
class LinkAdmin(admin.ModelAdmin):
    list_display = ["project", "kind", "created_by", "created_at", "expires_at", "revoked_at"]
    exclude = ["secret"]


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["__str__", "take", "created_at"]
    raw_id_fields = ["shot", "take", "author", "link"]


class ShotInline(admin.TabularInline):
    model = Shot
    fields = ["position", "prompt", "duration", "opening", "selected_take"]
    raw_id_fields = ["selected_take"]
    extra = 0


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["title", "team", "model", "resolution", "ratio", "updated_at"]
    list_filter = ["team"]
    search_fields = ["title"]
    inlines = [ShotInline]


class ReferenceInline(admin.TabularInline):
    model = Reference
    fields = ["position", "kind", "file"]
    extra = 0


@admin.register(Shot)
class ShotAdmin(admin.ModelAdmin):
    list_display = ["__str__", "opening", "duration", "selected_take"]
    raw_id_fields = ["selected_take"]
    inlines = [ReferenceInline]


@admin.register(Take)
class TakeAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status", "provider", "remote_id", "tokens", "created_at"]
    list_filter = ["status", "provider"]
    search_fields = ["remote_id"]
    raw_id_fields = ["shot", "upstream_take"]


@admin.register(Spend)
class SpendAdmin(admin.ModelAdmin):
    list_display = ["project_title", "team", "tokens", "model", "requested_by", "billed_at"]
    list_filter = ["team"]
    raw_id_fields = ["project", "take"]


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status", "mode", "duration", "created_at"]
    list_filter = ["status"]


@admin.register(AccessToken)
class AccessTokenAdmin(admin.ModelAdmin):
    """API tokens: seen and revoked here, never made (a secret is shown to its owner only,
    on their page or by `manage.py token create`)."""

    list_display = [
        "name",
        "prefix",
        "user",
        "team",
        "read_only",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["read_only"]
    readonly_fields = ["user", "prefix", "created_at", "last_used_at"]  # never the hash
    fields = [*readonly_fields, "name", "team", "read_only", "expires_at", "revoked_at"]
    search_fields = ["name", "prefix", "user__username"]

    def has_add_permission(self, request):
        return False
