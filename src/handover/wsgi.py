"""WSGI entry point (gunicorn handover.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "handover.settings.local")
application = get_wsgi_application()
# Every app's views are imported while the worker boots, not in its first request: on a loaded machine that
# import took longer than gunicorn's 30-s worker timeout, and the first requests of the handover-day load run
# were answered 500 (issue 18, docs/benchmarks.md).
get_resolver().url_patterns  # noqa: B018
