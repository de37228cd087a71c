"""/tokens/: list, make and revoke API tokens (behind sign-in; staff see everyone's).

A new token is shown once, in the answer to the POST that made it (never stored, never put
in the session or a message), and that answer is not cached.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods

from registrations import tokens

signed_in = login_required(login_url="sign-in")


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        max_length=tokens.NAME_MAX,
        help_text="What will use the token, e.g. 'CI' or 'deploy scripts'.",
        error_messages={"required": "name is required: say what will use the token, e.g. CI"},
        widget=forms.TextInput(attrs={"size": 40}),
    )


def _page(request: HttpRequest, form: TokenCreateForm, *, secret: str = "", status: int = 200):
    context = {
        "form": form,
        "tokens": tokens.tokens_visible(user=request.user),
        "staff": request.user.is_staff or request.user.is_superuser,
        "secret": secret,
        "limit": tokens.MAX_ACTIVE_PER_USER,
    }
    response = render(request, "tokens/token_list.html", context, status=status)
    add_never_cache_headers(response)
    return response


@signed_in
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request, TokenCreateForm())
    form = TokenCreateForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        token, secret = tokens.token_create(user=request.user, name=form.cleaned_data["name"])
    except ValidationError as error:
        for field, problems in error.message_dict.items():
            for problem in problems:
                form.add_error(field, problem)
        return _page(request, form, status=400)
    return _page(request, TokenCreateForm(), secret=secret)


@signed_in
@require_http_methods(["GET", "POST"])
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST revokes. Another user's token is a 404 (staff: any)."""
    token = tokens.tokens_visible(user=request.user).filter(pk=pk).first()
    if token is None:
        raise Http404("No such active token of yours: it may have been revoked already.")
    if request.method == "GET":
        return render(request, "tokens/token_revoke.html", {"token": token})
    tokens.token_revoke(user=request.user, token_id=token.pk)
    messages.success(request, f"Token {token.name!r} ({token.shown}) was revoked.")
    return redirect("token-list")
