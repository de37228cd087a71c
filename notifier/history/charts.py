"""Server-side SVG charts for the dashboard: no script, no CDN, readable by screen readers.

Each function returns SVG markup (safe to insert: every text is escaped) that scales to
its container's width; the page shows the same numbers as a table beside each chart.
"""

from __future__ import annotations

from html import escape

from django.utils.safestring import SafeString, mark_safe

COLOURS = {
    "Succeeded": "#18794e",
    "Failed": "#b42318",
    "Stopped": "#8a6100",
    "Running": "#5b6472",
    "Deployments": "#3b6fb6",
    "p50": "#3b6fb6",
    "p95": "#9e4fb0",
}


def _svg(width: int, height: int, label: str, body: list[str]) -> SafeString:
    return mark_safe(
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(label)}" preserveAspectRatio="xMinYMin meet" '
        f'style="max-width:{width}px;height:auto">'
        f"<title>{escape(label)}</title>{''.join(body)}</svg>"
    )


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if value <= step:
            return step
    magnitude = 10 ** (len(str(int(value))) - 1)
    return -(-value // magnitude) * magnitude


def stacked_bars(
    series: list[tuple[str, dict[str, int]]], *, keys: tuple[str, ...], label: str
) -> SafeString:
    """One stacked bar per (x label, {key: count}) entry, e.g. deployments per day."""
    width, height, left, bottom, top = 720, 220, 36, 36, 10
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = _nice_max(max((sum(v.values()) for _, v in series), default=0))
    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" '
        'stroke="#c5cad3"/>',
        f'<text x="{left - 4}" y="{top + 10}" font-size="11" text-anchor="end">{peak:g}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" font-size="11" text-anchor="end">0</text>',
    ]
    slot = plot_w / max(1, len(series))
    bar = max(2.0, slot * 0.7)
    for index, (x_label, values) in enumerate(series):
        x = left + index * slot + (slot - bar) / 2
        y = top + plot_h
        for key in keys:
            count = values.get(key, 0)
            if not count:
                continue
            h = plot_h * count / peak
            y -= h
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS.get(key, "#888")}"><title>{escape(x_label)}: {count} '
                f"{escape(key.lower())}</title></rect>"
            )
        if index % max(1, len(series) // 6) == 0:
            body.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" font-size="11" '
                f'text-anchor="middle">{escape(x_label)}</text>'
            )
    body.extend(_legend(keys, y=height - 6, x=left))
    return _svg(width, height, label, body)


def horizontal_bars(
    rows: list[tuple[str, float, str]], *, label: str, colour: str = "#b42318"
) -> SafeString:
    """One bar per (name, fraction 0..1, text shown after the bar)."""
    row_h, left, width = 24, 230, 720
    height = max(1, len(rows)) * row_h + 8
    plot_w = width - left - 120
    body = []
    for index, (name, fraction, text) in enumerate(rows):
        y = 4 + index * row_h
        w = max(1.0, plot_w * max(0.0, min(1.0, fraction)))
        body.append(
            f'<text x="{left - 6}" y="{y + 15}" font-size="12" text-anchor="end">'
            f"{escape(_short(name))}</text>"
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" fill="{colour}">'
            f"<title>{escape(name)}: {escape(text)}</title></rect>"
            f'<text x="{left + w + 6:.1f}" y="{y + 15}" font-size="12">{escape(text)}</text>'
        )
    return _svg(width, height, label, body)


def paired_bars(rows: list[tuple[str, float, float]], *, label: str, unit: str) -> SafeString:
    """Two bars (p50, p95) per row name."""
    row_h, left, width = 40, 230, 720
    height = max(1, len(rows)) * row_h + 24
    peak = _nice_max(max((max(a, b) for _, a, b in rows), default=0))
    plot_w = width - left - 120
    body = []
    for index, (name, p50, p95) in enumerate(rows):
        y = 4 + index * row_h
        body.append(
            f'<text x="{left - 6}" y="{y + 20}" font-size="12" text-anchor="end">'
            f"{escape(_short(name))}</text>"
        )
        for offset, key, value in ((0, "p50", p50), (17, "p95", p95)):
            w = max(1.0, plot_w * value / peak)
            body.append(
                f'<rect x="{left}" y="{y + offset + 2}" width="{w:.1f}" height="14" '
                f'fill="{COLOURS[key]}"><title>{escape(name)} {key}: {value:g} {unit}</title>'
                f'</rect><text x="{left + w + 6:.1f}" y="{y + offset + 14}" font-size="11">'
                f"{key} {value:g} {unit}</text>"
            )
    body.extend(_legend(("p50", "p95"), y=height - 6, x=left))
    return _svg(width, height, label, body)


def _legend(keys, *, y: float, x: float) -> list[str]:
    out = []
    for key in keys:
        out.append(
            f'<rect x="{x}" y="{y - 10}" width="10" height="10" fill="{COLOURS.get(key, "#888")}"/>'
            f'<text x="{x + 14}" y="{y}" font-size="11">{escape(key)}</text>'
        )
        x += 24 + 7 * len(key)
    return out


def _short(name: str, limit: int = 32) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"
