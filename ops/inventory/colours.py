"""Colour checks: a platform's accent colour carries white text, so it must be dark enough."""

from __future__ import annotations

#: WCAG 2 AA contrast for normal text.
MIN_CONTRAST = 4.5


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """Relative luminance of a `#rrggbb` colour (WCAG 2)."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_with_white(colour: str) -> float:
    """The contrast ratio of white text on `colour` (1 to 21)."""
    return 1.05 / (luminance(colour) + 0.05)


def too_light(colour: str) -> bool:
    """Whether white text on `colour` fails WCAG AA for normal text."""
    return contrast_with_white(colour) < MIN_CONTRAST
