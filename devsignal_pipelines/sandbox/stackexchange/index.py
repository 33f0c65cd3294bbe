"""What Stack Overflow looks like at a given server clock, derived from a world's posts.

A world's question and answer objects hold every event up to the end of the world. The API
must show each post as it was at the clock: answers and edits after it are not there yet, so a
question's ``answer_count``, ``last_activity_date``, ``last_edit_date``, ``is_answered`` and
``accepted_answer_id`` all depend on the clock. Each post keeps its event times sorted, so a
post's state at any clock is a few bisects; at or after the end of the world it is exactly the
world's object.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

_CACHED_LISTINGS = 256


@dataclass(frozen=True)
class _AnswerTimeline:
    item: dict  # the world's answer object (its state at the end of the world)
    created: int
    activity: tuple[int, ...]  # creation and every edit, ascending
    edits: tuple[int, ...]


@dataclass(frozen=True)
class _QuestionTimeline:
    item: dict
    created: int
    activity: tuple[int, ...]  # creation, edits, answers' creations and edits, ascending
    edits: tuple[int, ...]
    answer_times: tuple[int, ...]  # creation of each answer, ascending
    answered_at: int | None  # from when is_answered is true
    accepted: tuple[int, int] | None  # (accepted answer id, from when it is accepted)


def _latest(times: tuple[int, ...], now: int) -> int | None:
    position = bisect_right(times, now)
    return times[position - 1] if position else None


def _answer_as_of(timeline: _AnswerTimeline, now: int) -> dict:
    item = dict(timeline.item)
    item["last_activity_date"] = _latest(timeline.activity, now)
    last_edit = _latest(timeline.edits, now)
    if last_edit is None:
        item.pop("last_edit_date", None)
    else:
        item["last_edit_date"] = last_edit
    return item


def _question_as_of(timeline: _QuestionTimeline, now: int) -> dict:
    item = dict(timeline.item)
    item["is_answered"] = timeline.answered_at is not None and timeline.answered_at <= now
    if timeline.accepted is not None and timeline.accepted[1] <= now:
        item["accepted_answer_id"] = timeline.accepted[0]
    else:
        item.pop("accepted_answer_id", None)
    item["answer_count"] = bisect_right(timeline.answer_times, now)
    item["last_activity_date"] = _latest(timeline.activity, now)
    last_edit = _latest(timeline.edits, now)
    if last_edit is None:
        item.pop("last_edit_date", None)
    else:
        item["last_edit_date"] = last_edit
    return item


class StackOverflowIndex:
    """Questions by tag, answers by question, and their state at any clock (epoch seconds)."""

    def __init__(
        self,
        questions: list[dict],
        answers: list[dict],
        users: dict[int, dict],
        edits: dict[int, tuple[int, ...]],
    ) -> None:
        self.users = users
        by_question: dict[int, list[_AnswerTimeline]] = {}
        for answer in answers:
            post_edits = edits.get(answer["answer_id"], ())
            timeline = _AnswerTimeline(
                answer, answer["creation_date"], (answer["creation_date"], *post_edits), post_edits
            )
            by_question.setdefault(answer["question_id"], []).append(timeline)
        for timelines in by_question.values():
            timelines.sort(key=lambda t: (t.created, t.item["answer_id"]))
        self._answers = by_question
        self._questions = [self._question_timeline(q, edits) for q in questions]
        self._by_id = {t.item["question_id"]: t for t in self._questions}
        self._positions_by_id = {
            t.item["question_id"]: position for position, t in enumerate(self._questions)
        }
        self._by_tag: dict[str, list[int]] = {}
        for position, timeline in enumerate(self._questions):
            for tag in timeline.item["tags"]:
                self._by_tag.setdefault(tag, []).append(position)
        self._listings: OrderedDict[tuple, list[tuple]] = OrderedDict()

    def _question_timeline(
        self, question: dict, edits: dict[int, tuple[int, ...]]
    ) -> _QuestionTimeline:
        question_id, created = question["question_id"], question["creation_date"]
        answers = self._answers.get(question_id, [])
        post_edits = edits.get(question_id, ())
        activity = sorted([created, *post_edits, *(t for a in answers for t in a.activity)])
        answered = [a.created for a in answers if a.item["is_accepted"] or a.item["score"] > 0]
        accepted = next(
            ((a.item["answer_id"], a.created) for a in answers if a.item["is_accepted"]), None
        )
        return _QuestionTimeline(
            item=question,
            created=created,
            activity=tuple(activity),
            edits=post_edits,
            answer_times=tuple(a.created for a in answers),
            answered_at=min(answered, default=None),
            accepted=accepted,
        )

    # --- questions -------------------------------------------------------------------------

    def question_listing(self, tags: tuple[str, ...], sort: str, now: int) -> list[tuple]:
        """Visible questions having ALL ``tags`` as ``(sort value, question_id, created,
        position)``, ascending; cached per (tags, sort, clock) because connectors page through
        the same listing many times."""
        key = (tags, sort, now)
        listing = self._listings.get(key)
        if listing is not None:
            self._listings.move_to_end(key)
            return listing
        sort_value = _QUESTION_SORTS[sort]
        listing = []
        for position in self._positions(tags):
            timeline = self._questions[position]
            if timeline.created <= now:
                value = sort_value(timeline, now)
                listing.append((value, timeline.item["question_id"], timeline.created, position))
        listing.sort()
        self._listings[key] = listing
        if len(self._listings) > _CACHED_LISTINGS:
            self._listings.popitem(last=False)
        return listing

    def _positions(self, tags: tuple[str, ...]) -> list[int]:
        if not tags:
            return list(range(len(self._questions)))
        lists = sorted((self._by_tag.get(tag, []) for tag in tags), key=len)
        others = [set(positions) for positions in lists[1:]]
        return [p for p in lists[0] if all(p in other for other in others)]

    def questions_by_id(self, question_ids: list[int], sort: str, now: int) -> list[tuple]:
        """Visible questions among ``question_ids``, like ``question_listing``'s rows."""
        sort_value = _QUESTION_SORTS[sort]
        listing = []
        for question_id in question_ids:
            position = self._positions_by_id.get(question_id)
            if position is not None and self._questions[position].created <= now:
                timeline = self._questions[position]
                value = sort_value(timeline, now)
                listing.append((value, question_id, timeline.created, position))
        listing.sort()
        return listing

    def question(self, position: int, now: int) -> dict:
        return _question_as_of(self._questions[position], now)

    # --- answers ---------------------------------------------------------------------------

    def answer_listing(
        self, question_ids: list[int], sort: str, now: int
    ) -> list[tuple[int | str, int, int, dict]]:
        """Visible answers to ``question_ids``, ascending by ``sort``, already in their state
        at ``now``: ``(sort value, answer_id, created, answer)``."""
        listing = []
        for question_id in question_ids:
            for timeline in self._answers.get(question_id, ()):
                if timeline.created > now:
                    break  # sorted by creation
                answer = _answer_as_of(timeline, now)
                value = answer[_ANSWER_SORTS[sort]]
                listing.append((value, answer["answer_id"], timeline.created, answer))
        listing.sort(key=lambda row: row[:2])
        return listing

    # --- users -----------------------------------------------------------------------------

    def user_listing(self, user_ids: list[int], sort: str, now: int) -> list[tuple]:
        """Existing users among ``user_ids`` as ``(sort value, user_id, created, user)``."""
        field = _USER_SORTS[sort]
        listing = []
        for user_id in user_ids:
            user = self.users.get(user_id)
            if user is not None and user["creation_date"] <= now:
                value = user[field]
                listing.append((value, user_id, user["creation_date"], user))
        listing.sort(key=lambda row: row[:2])
        return listing


_QUESTION_SORTS: dict[str, Callable[[_QuestionTimeline, int], int]] = {
    "activity": lambda timeline, now: _latest(timeline.activity, now) or timeline.created,
    "creation": lambda timeline, now: timeline.created,
    "votes": lambda timeline, now: timeline.item["score"],
}
_ANSWER_SORTS = {"activity": "last_activity_date", "creation": "creation_date", "votes": "score"}
_USER_SORTS = {"reputation": "reputation", "creation": "creation_date", "name": "display_name"}
QUESTION_SORTS = tuple(_QUESTION_SORTS)
ANSWER_SORTS = tuple(_ANSWER_SORTS)
USER_SORTS = tuple(_USER_SORTS)
