"""WSGI entry point for gunicorn: `gunicorn sites.wsgi:app`."""

import sys

from ops.inventory import InventoryError
from sites import create_app
from sites.config import ConfigError

try:
    app = create_app()
except InventoryError as exc:  # refuse to start, saying exactly what is wrong
    print("\n".join(str(issue) for issue in exc.issues), file=sys.stderr)
    raise SystemExit(2) from exc
except ConfigError as exc:
    print(f"error: {exc}", file=sys.stderr)
    raise SystemExit(2) from exc
