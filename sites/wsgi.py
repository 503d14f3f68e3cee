"""WSGI entry point for gunicorn: `gunicorn sites.wsgi:app`."""

from sites import create_app

app = create_app()
