"""Pages of API lists: ``limit`` is capped, whatever number is asked for."""

from __future__ import annotations

from rest_framework.pagination import LimitOffsetPagination

MAX_LIMIT = 500


class CappedLimitOffsetPagination(LimitOffsetPagination):
    """``?limit=10443711158593815314432`` is served as ``?limit=500``: one request cannot ask the database for
    an unbounded page (nor overflow SQLite's 64-bit integers). An ``offset`` past the end is an empty page."""

    max_limit = MAX_LIMIT
