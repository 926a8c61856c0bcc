"""Small charts as SVG drawn on the server: nothing to download, nothing from a CDN (DESIGN.md decision 8).

Every label goes through ``format_html``, so text from the database is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _


def state_labels() -> dict[str, str]:
    """The step states as the legend names them, in the page's language (UX review M1: no internal codes)."""
    return {
        "done": _("Done"),
        "done_late": _("Done late"),
        "overdue": _("Overdue"),
        "blocked": _("Blocked"),
        "in_progress": _("In progress"),
        "pending": _("Not started"),
    }


# 340 units wide at most, so that a 14-unit label is 12 px or more in a 300 px card (UX review M4).
BAR_HEIGHT, BAR_GAP, LABEL_WIDTH, BAR_WIDTH = 20, 6, 110, 160
# The heat map's rows by what they are made of (``heatmap``): a few engagements' sites in a few languages.
_ROWS: dict[tuple[object, ...], tuple[tuple[Any, ...], str]] = {}
ROWS_HELD = 5000


def completion_bars(items: Sequence[tuple[str, int, int]], testid: str) -> SafeString:
    """Horizontal bars: (label, done, total) → a bar filled to done/total with "done/total" after it."""
    height = max(1, len(items)) * (BAR_HEIGHT + BAR_GAP)
    width = LABEL_WIDTH + BAR_WIDTH + 70
    rows = []
    for index, (label, done, total) in enumerate(items):
        y = index * (BAR_HEIGHT + BAR_GAP)
        filled = round(BAR_WIDTH * done / total) if total else 0
        rows.append((label, done, total, y, filled, y + BAR_HEIGHT - 5))
    body = format_html_join(
        "",
        '<g><text x="0" y="{5}" class="chart-label">{0}</text>'
        f'<rect x="{LABEL_WIDTH}" y="{{3}}" width="{BAR_WIDTH}" height="{BAR_HEIGHT}" class="chart-track"/>'
        f'<rect x="{LABEL_WIDTH}" y="{{3}}" width="{{4}}" height="{BAR_HEIGHT}" class="chart-bar"/>'
        f'<text x="{LABEL_WIDTH + BAR_WIDTH + 6}" y="{{5}}" class="chart-value">{{1}}/{{2}}</text></g>',
        rows,
    )
    return format_html(
        '<svg class="chart" role="img" data-testid="{}" viewBox="0 0 {} {}" width="100%">{}</svg>',
        testid,
        width,
        height,
        body,
    )


def trend_line(points: Sequence[tuple[int, int]], total: int, testid: str) -> SafeString:
    """Steps done by the end of each hour of the day (x: hour 0–23, y: 0–total)."""
    width, height, pad = 340, 120, 20
    top = max(total, 1)
    x = lambda hour: pad + (width - 2 * pad) * hour / 23  # noqa: E731
    y = lambda n: height - pad - (height - 2 * pad) * n / top  # noqa: E731
    coords = " ".join(f"{x(h):.1f},{y(n):.1f}" for h, n in points)
    ticks = format_html_join(
        "",
        '<text x="{}" y="{}" class="chart-tick">{}</text>',
        ((f"{x(h):.1f}", height - 4, h) for h in (0, 6, 12, 18, 23)),
    )
    last = points[-1][1] if points else 0
    return format_html(
        '<svg class="chart" role="img" data-testid="{}" viewBox="0 0 {} {}" width="100%">'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="chart-axis"/>'
        '<polyline points="{}" class="chart-line"/>{}'
        '<text x="{}" y="16" class="chart-value">{}/{}</text></svg>',
        testid,
        width,
        height,
        pad,
        height - pad,
        width - pad,
        height - pad,
        coords,
        ticks,
        pad,
        last,
        total,
    )


def heatmap(
    rows: Sequence[Any],
    columns: Sequence[Any],
    step_url: str,
    site_url: str,
    groups: Sequence[tuple[str, int]] = (),
) -> SafeString:
    """The sites × steps table, built here rather than in a template loop: 300 sites × their steps are
    thousands of cells, and a template tag per cell costs more than the whole rest of the page.

    ``step_url`` and ``site_url`` end with the id (``…/steps/0/`` → ``…/steps/<id>/``); ``groups`` heads the
    columns with their phase, (label, number of columns) in order."""
    step_prefix, site_prefix = step_url.rsplit("0/", 1)[0], site_url.rsplit("0/", 1)[0]
    head = "".join(f'<th class="step" title="{escape(s.zh)}">{escape(s.id)}</th>' for s in columns)
    lines = ['<table class="heat" data-testid="heatmap">']
    if groups:
        spans = "".join(
            f'<th class="phase" colspan="{span}" data-testid="heat-phase">{escape(label)}</th>'
            for label, span in groups
        )
        lines.append(f"<tr><th></th>{spans}<th></th></tr>")
    lines.append(f"<tr><th></th>{head}<th></th></tr>")
    titles: dict[tuple[str, str, tuple[str, ...]], str] = {}  # most cells share their step, state and reasons
    labels = state_labels()
    language = get_language()
    for row in rows:
        site = row.site
        # A row is the same HTML while its views are the same objects (state.py keeps a site's views until
        # something it reads is written), for the same site, links and language: after a write at one site,
        # one row is built again, not 300.
        key = (step_prefix, site_prefix, language, site.pk, site.code, site.name, *map(id, row.cells))
        held = _ROWS.get(key)
        if held is not None:
            lines.append(held[1])
            continue
        cells = []
        for view in row.cells:
            if view is None:
                cells.append('<td><span class="s-none"></span></td>')
                continue
            key = (view.step.id, view.state, view.gate_reasons)
            title = titles.get(key)
            if title is None:
                named = f"{view.step.id} {view.step.zh} {labels.get(view.state, view.state)}"
                title = titles[key] = escape(" · ".join((named, *view.gate_reasons)))
            cells.append(
                f'<td><a class="s-{view.state}" href="{step_prefix}{view.instance_id}/" title="{title}"></a></td>'
            )
        line = (
            f'<tr data-testid="site-{escape(site.code)}"><th class="site">'
            f'<a href="{site_prefix}{site.pk}/">{escape(site.name)}</a></th>{"".join(cells)}'
            f'<td class="muted">{row.done}/{row.total}</td></tr>'
        )
        if len(_ROWS) >= ROWS_HELD:
            _ROWS.clear()
        _ROWS[key] = (tuple(row.cells), line)  # the views held with it: their ids are theirs while it is kept
        lines.append(line)
    lines.append("</table>")
    return mark_safe("".join(lines))  # noqa: S308 - every value from the database is escaped above
