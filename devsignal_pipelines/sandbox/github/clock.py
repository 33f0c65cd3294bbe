"""When GitHub activity happens: offsets from the anchor, and their timestamps.

Generation draws every time as an offset (seconds) from the anchor and turns it into a
timestamp last, so moving the anchor moves every time and changes nothing else.
"""

from __future__ import annotations

import random

from devsignal_pipelines.sandbox.github.objects import timestamp

DAY_S = 86_400
YEAR_S = 365 * DAY_S
END_S = DAY_S  # the world ends one day after the anchor
AFTER_ANCHOR_SHARE = 0.04


def activity_offset(rng: random.Random) -> int:
    """When something happens: in the year before the anchor, or (rarely) the day after it."""
    if rng.random() < AFTER_ANCHOR_SHARE:
        return 1 + int((END_S - 1) * rng.random())
    return -int(YEAR_S * rng.random()) - 1


class Stamp:
    """Offset from the anchor -> GitHub timestamp."""

    def __init__(self, anchor_s: int) -> None:
        self.anchor_s = anchor_s

    def __call__(self, offset: int) -> str:
        return timestamp(self.anchor_s + offset)
