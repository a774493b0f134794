from datetime import UTC, datetime, timedelta

import pytest

from sync_service.core.cart_schedule import (
    Action,
    CartChange,
    Cursor,
    Flow,
    FlowStep,
    Outcome,
    Timer,
    advance_cursor,
    after_enqueue,
    classify,
    next_step,
    parse_odoo_datetime,
    plan,
    replan,
    retry_delay,
)

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
FLOW = Flow(1, (FlowStep(11, 3600), FlowStep(12, 86400), FlowStep(13, 259200)))
FLOWS = {1: FLOW, 2: Flow(2, (FlowStep(21, 60),))}


def t(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def change(write_hours: float = 0, *, open: bool = True, flow: int | None = 1, done: set[int] | None = None,
           order: int = 7) -> CartChange:
    return CartChange(order, t(write_hours), open, flow, frozenset(done or ()))


def timer(step: int = 11, activity: float = 0, due: float = 1, done: set[int] | None = None,
          attempts: int = 0) -> Timer:
    return Timer(7, 1, step, t(activity), t(due), frozenset(done or ()), attempts)


@pytest.mark.parametrize(
    ("done", "expected"),
    [(set(), 11), ({11}, 12), ({11, 12}, 13), ({12}, 11), ({11, 12, 13}, None), ({99}, 11)],
)
def test_next_step_is_the_first_not_done(done: set[int], expected: int | None) -> None:
    step = next_step(FLOW, done)
    assert (step.id if step else None) == expected


@pytest.mark.parametrize(
    ("the_change", "previous", "expected"),
    [
        # a new open cart: step 1, due 1 h after its last activity
        (change(0), None, timer(11, 0, 1)),
        # Odoo already queued step 1 (another replica, or before a restart): step 2 at +24 h
        (change(0, done={11}), None, timer(12, 0, 24, {11})),
        # the cart changed after step 1: step 2 counts from the new activity
        (change(3), timer(12, 0, 24, {11}), timer(12, 3, 27, {11})),
        # our own record of a done step survives a poll that does not list it yet
        (change(3), timer(12, 0, 24, {11}), timer(12, 3, 27, {11})),
        # every step done: no timer
        (change(5, done={11, 12, 13}), None, None),
        # closed (confirmed, emptied...), or no flow for the cart: dropped
        (change(5, open=False), timer(12, 0, 24, {11}), None),
        (change(5, flow=None), timer(), None),
        (change(5, flow=99), timer(), None),
        # the cart moved to another flow (e.g. a US number): that flow's steps, own done set
        (change(5, flow=2), timer(12, 0, 24, {11}), Timer(7, 2, 21, t(5), t(5) + timedelta(minutes=1))),
    ],
)
def test_plan(the_change: CartChange, previous: Timer | None, expected: Timer | None) -> None:
    assert plan(the_change, FLOWS, previous) == expected


def test_plan_keeps_an_unchanged_timer_with_its_retry_state() -> None:
    previous = timer(11, 0, 1.5, attempts=2)  # retry scheduled at 1.5 h
    assert plan(change(0), FLOWS, previous) is previous


def test_plan_never_moves_the_activity_back_on_a_stale_reread() -> None:
    previous = timer(12, 3, 27, {11})
    assert plan(change(1, done={11}), FLOWS, previous) is previous


@pytest.mark.parametrize(
    ("outcome", "action"),
    [
        (Outcome("queued"), Action.ADVANCE),
        (Outcome("skipped", "already_sent"), Action.ADVANCE),
        (Outcome("skipped", "superseded"), Action.ADVANCE),
        (Outcome("skipped", "not_due"), Action.RESCHEDULE),
        (Outcome("retry", "concurrent"), Action.RETRY),
        (Outcome("skipped", "confirmed"), Action.DROP),
        (Outcome("skipped", "cancelled"), Action.DROP),
        (Outcome("skipped", "emptied"), Action.DROP),
        (Outcome("skipped", "opted_out"), Action.DROP),
        (Outcome("skipped", "no_consent"), Action.DROP),
        (Outcome("skipped", "invalid_number"), Action.DROP),
        (Outcome("skipped", "other_flow"), Action.DROP),
        (Outcome("skipped", "something_new"), Action.DROP),
    ],
)
def test_classify(outcome: Outcome, action: Action) -> None:
    assert classify(outcome) is action


@pytest.mark.parametrize(
    ("before", "outcome", "now", "expected"),
    [
        # queued: next step, still counted from the same activity
        (timer(11, 0, 1), Outcome("queued"), t(1), timer(12, 0, 24, {11})),
        (timer(12, 0, 24, {11}), Outcome("queued"), t(24), timer(13, 0, 72, {11, 12})),
        # the last step: no timer left
        (timer(13, 0, 72, {11, 12}), Outcome("queued"), t(72), None),
        # already sent by someone else: move on as if queued
        (timer(11, 0, 1), Outcome("skipped", "already_sent"), t(1), timer(12, 0, 24, {11})),
        # the cart changed since we planned: same step, from Odoo's new activity and due time
        (timer(12, 0, 24, {11}), Outcome("skipped", "not_due", write_date=t(2), due_at=t(26)), t(24),
         timer(12, 2, 26, {11})),
        # an exit: dropped
        (timer(12, 0, 24, {11}), Outcome("skipped", "confirmed"), t(24), None),
        # a concurrent call: ask again after 1 s, then 2 s, 4 s...
        (timer(11, 0, 1), Outcome("retry", "concurrent"), t(1),
         Timer(7, 1, 11, t(0), t(1) + timedelta(seconds=1), frozenset(), 1)),
        (timer(11, 0, 1, attempts=3), Outcome("retry", "concurrent"), t(1),
         Timer(7, 1, 11, t(0), t(1) + timedelta(seconds=8), frozenset(), 4)),
    ],
)
def test_after_enqueue(before: Timer, outcome: Outcome, now: datetime, expected: Timer | None) -> None:
    assert after_enqueue(before, outcome, FLOWS, now) == expected


def test_not_due_in_our_past_waits_a_little_instead_of_spinning() -> None:
    new = after_enqueue(timer(11, 0, 1), Outcome("skipped", "not_due", write_date=t(0), due_at=t(1)), FLOWS,
                        t(1) + timedelta(seconds=1))
    assert new is not None and new.due_at > t(1) + timedelta(seconds=1)


def test_replan_after_flows_changed() -> None:
    shorter = {1: Flow(1, (FlowStep(11, 1800), FlowStep(12, 7200)))}
    assert replan(timer(12, 0, 24, {11}), shorter) == timer(12, 0, 2, {11})
    assert replan(timer(12, 0, 24, {11}), {}) is None  # flow archived
    assert replan(timer(12, 0, 24, {11}), {1: Flow(1, (FlowStep(11, 3600),))}) is None  # step removed: done


@pytest.mark.parametrize(
    ("attempts", "expected"), [(0, 1.0), (1, 1.0), (2, 2.0), (3, 4.0), (7, 60.0), (30, 60.0)]
)
def test_retry_delay(attempts: int, expected: float) -> None:
    assert retry_delay(attempts, 1.0, 60.0) == expected


NOW = t(10)
SETTLE = 30.0
HORIZON = Cursor(NOW - timedelta(seconds=SETTLE), 0)


@pytest.mark.parametrize(
    ("current", "last_read", "expected"),
    [
        # first poll, nothing read: start from the settle horizon
        (None, None, HORIZON),
        # rows well in the past: the cursor follows the last row read
        (None, Cursor(t(5), 42), Cursor(t(5), 42)),
        (Cursor(t(4), 1), Cursor(t(5), 42), Cursor(t(5), 42)),
        # rows inside the settle window: stop at the horizon, read them again next time
        (Cursor(t(4), 1), Cursor(NOW - timedelta(seconds=5), 43), HORIZON),
        # nothing new: the cursor moves up to the horizon
        (Cursor(t(4), 1), None, HORIZON),
        # never backwards
        (Cursor(NOW, 50), None, Cursor(NOW, 50)),
        (Cursor(NOW, 50), Cursor(NOW - timedelta(seconds=5), 43), Cursor(NOW, 50)),
        # ties on write_date are broken by id
        (Cursor(t(5), 42), Cursor(t(5), 40), Cursor(t(5), 42)),
    ],
)
def test_advance_cursor(current: Cursor | None, last_read: Cursor | None, expected: Cursor) -> None:
    assert advance_cursor(current, last_read, NOW, SETTLE) == expected


def test_cursor_round_trips_with_microseconds() -> None:
    cursor = Cursor(parse_odoo_datetime("2026-11-24 09:00:00.123456"), 7)
    assert Cursor.from_json(cursor.to_json()) == cursor
    assert cursor.odoo_write_date() == "2026-11-24 09:00:00.123456"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-24 09:00:00", T0),
        ("2026-11-24 09:00:00.5", T0 + timedelta(microseconds=500000)),
        ("2026-11-24T10:00:00+01:00", T0),
    ],
)
def test_parse_odoo_datetime(raw: str, expected: datetime) -> None:
    assert parse_odoo_datetime(raw) == expected


def test_cart_change_from_odoo() -> None:
    row = {"id": 7, "write_date": "2026-11-24 09:00:00.000001", "open": True, "reason": False, "flow_id": 1,
           "done_step_ids": [11]}
    parsed = CartChange.from_odoo(row)
    assert parsed == CartChange(7, T0 + timedelta(microseconds=1), True, 1, frozenset({11}))
    assert parsed.cursor == Cursor(T0 + timedelta(microseconds=1), 7)
