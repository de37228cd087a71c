"""The demo inbox's pages: every message received, newest first, each shown the way its
channel would; one message on its own page. Signed-in users only, like the history pages;
404 unless the demo runs."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from notifier.demo.inbox import CHANNELS, inbox_counts, inbox_message_get, inbox_messages
from notifier.demo.receive import demo_only
from notifier.demo.render import message_view

PAGE_SIZE = 50
REFRESH_SECONDS = 10


@demo_only
@login_required(login_url="sign-in")
def inbox(request: HttpRequest) -> HttpResponse:
    wanted = request.GET.get("channel", "")
    channel = wanted if wanted in CHANNELS else ""
    counts = inbox_counts()
    chips = [
        {"kind": kind, "label": label, "count": counts.get(kind, 0), "current": kind == channel}
        for kind, label in CHANNELS.items()
    ]
    messages = [message_view(m) for m in inbox_messages(channel=channel, limit=PAGE_SIZE)]
    context = {
        "chips": chips,
        "channel": channel,
        "unknown_channel": wanted if wanted and not channel else "",
        "total": sum(counts.values()),
        "views": messages,
        "page_size": PAGE_SIZE,
        "refresh_seconds": REFRESH_SECONDS,
    }
    return render(request, "demo/inbox.html", context)


@demo_only
@login_required(login_url="sign-in")
def inbox_message(request: HttpRequest, message_id: int) -> HttpResponse:
    message = inbox_message_get(message_id=message_id)
    if message is None:
        raise Http404(f"The demo inbox holds no message {message_id} (it keeps the newest 1,000).")
    return render(request, "demo/message.html", {"view": message_view(message), "full": True})
