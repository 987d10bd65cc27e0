"""How quantities are written for people: durations in progress lines, ETAs and ages.

This module imports nothing from the package, so any module may use it.
"""

from __future__ import annotations

import math


def format_duration(seconds: float | None) -> str:
    """'1h02m' from an hour on, '3m05s' below it (whole seconds, cut not rounded); '?' for a
    duration not known (None, infinite or NaN: nothing measured yet)."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
