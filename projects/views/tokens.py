"""A person's access tokens for the JSON API: made (the secret shown once), listed with
their last use, revoked."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from ..forms import TokenForm
from ..models import AccessToken


@login_required
@never_cache  # the page that shows a new token's secret is kept by no cache
def token_list(request):
    """The person's tokens, and a new one; after making it, its secret, this once (the
    answer to the POST itself: it is stored nowhere, not even in the session)."""
    form = TokenForm(request.POST or None, user=request.user)
    made = secret = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        made, secret = AccessToken.make(
            request.user, data["name"], data["team"], data["read_only"], data["days"]
        )
        form = TokenForm(user=request.user)
    tokens = request.user.access_tokens.select_related("team")
    context = {"form": form, "tokens": tokens, "made": made, "secret": secret}
    status = 400 if form.errors else 200
    return render(request, "tokens/token_list.html", context, status=status)


@login_required
@require_POST
def token_revoke(request, token_id):
    token = get_object_or_404(request.user.access_tokens, pk=token_id)
    token.revoke()
    messages.success(request, f"“{token.name}” ({token.prefix}…) no longer works.")
    return redirect("token-list")
