"""The site's URLs: signing in and out, the admin, the health check, and the projects app."""

from django.contrib import admin
from django.contrib.auth import views as auth
from django.urls import include, path

from projects import health
from projects.api import api

urlpatterns = [
    # Accounts come from invitations, the admin or createsuperuser; there is no sign-up
    # page, and no password reset by mail (no mail is configured).
    path("accounts/login/", auth.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password_change/",
        auth.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password_change/done/",
        auth.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("api/v1/", api.urls),
    path("", include("projects.urls")),
]
