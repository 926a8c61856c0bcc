"""Files in and out of the registers: templates, import (xlsx, CSV) and export (xlsx, PDF, CSV), all in the
official frame of registers.md §1. ``frame`` holds the layout, ``refs`` the names ↔ ids of references,
``importing`` and ``exporting`` the services, ``jobs`` the background import, ``selectors`` its progress."""
