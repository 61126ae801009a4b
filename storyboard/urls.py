"""The site's URLs: sign-in, the admin, the health check, and the projects app."""

from django.contrib import admin
from django.urls import include, path

from projects import health

urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("", include("projects.urls")),
]
