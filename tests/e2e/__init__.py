"""End-to-end tests: the real portal under gunicorn, driven by headless Chromium."""
