"""Where a notification points: a page named by its route and arguments, resolved here.

A service that notifies names the page it means (``Link("workflow:case", code=…, case_id=…)``) and never
spells a web path: the path is the pages' business (each app's ``urls.py``), and ``notify`` resolves it to
the path stored with the message, so a page that moves moves its notifications' links too.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse


class Link:
    """A page by its route name (``app:view``) and the route's keyword arguments."""

    __slots__ = ("kwargs", "route")

    def __init__(self, route: str, **kwargs: Any) -> None:
        self.route = route
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"Link({self.route!r}, **{self.kwargs!r})"

    def path(self) -> str:
        """The page's path, as the notification stores it and the pages link to it."""
        return reverse(self.route, kwargs=self.kwargs)


def link_path(link: Link | str) -> str:
    """The path stored with a notification: a ``Link`` resolved, or a path given as it is."""
    return link.path() if isinstance(link, Link) else link
