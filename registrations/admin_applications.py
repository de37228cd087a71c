"""Suggesting CodeDeploy application names on the registration form of the admin: a
`<datalist>` of the chosen source's applications, a link that reads the list again, and help
text saying why there are no suggestions when the list cannot be read."""

from __future__ import annotations

from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme

from registrations.applications import (
    application_not_found_warning,
    codedeploy_applications,
    codedeploy_applications_forget,
)
from registrations.sources import Source, source_default

DATALIST_ID = "codedeploy-applications"
REFRESH_NAME = "registrations_registration_applications_refresh"


class SuggestingTextInput(forms.TextInput):
    """A text box with a `<datalist>` of `suggestions`: the browser offers them, and any
    other text can still be typed."""

    suggestions: tuple[str, ...] = ()

    def render(self, name, value, attrs=None, renderer=None):
        box = super().render(name, value, {**(attrs or {}), "list": DATALIST_ID}, renderer)
        options = format_html_join("", '<option value="{}">', ((n,) for n in self.suggestions))
        return format_html('{}<datalist id="{}">{}</datalist>', box, DATALIST_ID, options)


def _chosen_source(form: forms.ModelForm) -> Source:
    """The source the form is about: the submitted one, the saved one, else the default."""
    chosen = form.data.get(form.add_prefix("source")) if form.is_bound else None
    if chosen:
        found = Source.objects.filter(pk=chosen).first() if str(chosen).isdigit() else None
        if found:
            return found
    if form.instance.pk and form.instance.source_id:
        return form.instance.source
    return source_default()


def applications_suggest(form: forms.ModelForm, *, back: str = "") -> None:
    """Give `form`'s application-name box the chosen source's applications as suggestions,
    with a link to read them again (returning to `back`) and, when unreadable, why."""
    field = form.fields.get("codedeploy_application_name")
    if field is None:
        return
    source = _chosen_source(form)
    found = codedeploy_applications(source=source)
    widget = SuggestingTextInput(attrs=field.widget.attrs)
    widget.suggestions = found.names
    field.widget = widget
    refresh = reverse(f"admin:{REFRESH_NAME}", args=[source.pk])
    said = (
        f"Suggestions: the {len(found.names)} applications of source {source.name!r}"
        if not found.error
        else f"No suggestions: {found.error}"
    )
    field.help_text = format_html(
        '{} {}. <a href="{}?next={}">Refresh the list</a>',
        field.help_text,
        said,
        refresh,
        quote(back),
    )


def applications_warn(request, *, name: str, source: Source) -> None:
    """A warning (never a refusal) when `source` has no application called `name`."""
    warning = application_not_found_warning(name=name, source=source)
    if warning:
        messages.warning(request, warning)


def applications_refresh_urls(model_admin) -> list:
    """The admin URL that drops a source's cached list and goes back where it came from."""

    def refresh(request, source_pk: int):
        if not model_admin.has_view_permission(request):
            raise PermissionDenied
        source = get_object_or_404(Source, pk=source_pk)
        codedeploy_applications_forget(source=source)
        found = codedeploy_applications(source=source)
        if found.error:
            messages.warning(request, found.error)
        else:
            messages.info(
                request, f"Read {len(found.names)} applications of source {source.name!r}."
            )
        back = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("admin:registrations_registration_changelist")
        return HttpResponseRedirect(back)

    view = model_admin.admin_site.admin_view(refresh)
    return [path("applications/refresh/<int:source_pk>/", view, name=REFRESH_NAME)]
