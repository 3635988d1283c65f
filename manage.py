#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ebookvoice.settings.base")
    # A person at a terminal reads one plain line a record; services and pipes keep JSON.
    os.environ.setdefault("LOG_FORMAT", "text" if sys.stderr.isatty() else "json")
    from django.core.management import execute_from_command_line  # noqa: PLC0415  (once the settings are named)

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
