"""EventBridge schedule rules (``rate(...)`` and ``cron(...)``), fired against their Lambda targets.

moto stores rules but never fires them. Rules are read back through the Events API, so any rule a
template or a user creates is honoured. ``speedup`` compresses rate schedules (60 turns
``rate(1 minute)`` into once a second) for demos and tests; cron schedules keep wall-clock time.
"""

from __future__ import annotations

import calendar
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

logger = logging.getLogger("localcloud.scheduler")

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_S = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}


class ScheduleError(ValueError):
    """A schedule expression this scheduler cannot run; the message names it."""


def rate_seconds(expr: str) -> float | None:
    m = _RATE.match(expr.strip())
    if not m:
        return None
    n, unit = int(m.group(1)), m.group(2)
    singular = unit in ("minute", "hour", "day")
    if (n == 1) != singular:
        raise ScheduleError(f"invalid rate expression (singular unit only for 1): {expr}")
    return float(n * _UNIT_S[unit])


def _field(spec: str, lo: int, hi: int, names: dict[str, int] | None = None) -> set[int] | None:
    """One cron field as the set of allowed values; None means any."""
    if spec in ("*", "?"):
        return None
    out: set[int] = set()
    for part in spec.split(","):
        step = 1
        if "/" in part:
            part, s = part.split("/", 1)
            step = int(s)
        if part in ("*", ""):
            a, b = lo, hi
        elif "-" in part:
            x, y = part.split("-", 1)
            a, b = _value(x, names), _value(y, names)
        else:
            a = _value(part, names)
            b = hi if step > 1 else a
        if not (lo <= a <= hi and lo <= b <= hi):
            raise ScheduleError(f"cron value out of range: {spec}")
        out.update(range(a, b + 1, step))
    return out


def _value(token: str, names: dict[str, int] | None) -> int:
    t = token.upper()
    if names and t in names:
        return names[t]
    if not t.isdigit():
        raise ScheduleError(f"unsupported cron token {token!r} (L, W and # are not supported locally)")
    return int(t)


@dataclass(frozen=True)
class Cron:
    """AWS cron: minutes hours day-of-month month day-of-week year, in UTC."""

    minutes: set[int] | None
    hours: set[int] | None
    dom: set[int] | None
    months: set[int] | None
    dow: set[int] | None  # 1 = Sunday, as AWS counts
    years: set[int] | None

    @classmethod
    def parse(cls, expr: str) -> Cron:
        m = re.match(r"^cron\((.*)\)$", expr.strip())
        if not m:
            raise ScheduleError(f"not a cron expression: {expr}")
        fields = m.group(1).split()
        if len(fields) != 6:
            raise ScheduleError(f"cron needs 6 fields (min hour day month weekday year): {expr}")
        return cls(_field(fields[0], 0, 59), _field(fields[1], 0, 23), _field(fields[2], 1, 31),
                   _field(fields[3], 1, 12, _MONTHS), _field(fields[4], 1, 7, _DAYS), _field(fields[5], 1970, 2199))

    def matches(self, t: datetime) -> bool:
        aws_dow = (t.isoweekday() % 7) + 1
        return all(s is None or v in s for s, v in (
            (self.minutes, t.minute), (self.hours, t.hour), (self.dom, t.day), (self.months, t.month),
            (self.dow, aws_dow), (self.years, t.year)))

    def next_after(self, t: datetime) -> datetime | None:
        cand = (t + timedelta(minutes=1)).replace(second=0, microsecond=0)
        for _ in range(366 * 24 * 60):
            if self.matches(cand):
                return cand
            cand += timedelta(minutes=1)
        return None


@dataclass
class _Schedule:
    rule_arn: str
    rule_name: str
    expression: str
    targets: list[dict[str, Any]]
    next_at: float
    period: float | None
    cron: Cron | None


Submit = Callable[[str, bytes, str], Any]  # (function arn, payload, source)


class Scheduler:
    def __init__(self, events_client: Any, submit: Submit, *, account_id: str, region: str, speedup: float = 1.0,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep):
        self._events = events_client
        self._submit = submit
        self._account = account_id
        self._region = region
        self._speedup = speedup
        self._clock = clock
        self._sleep = sleep
        self._schedules: dict[str, _Schedule] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self.fired = 0

    def reload(self) -> int:
        """Read every enabled schedule rule and its targets back through the Events API."""
        found: dict[str, _Schedule] = {}
        paginator = self._events.get_paginator("list_rules")
        for page in paginator.paginate():
            for rule in page.get("Rules", []):
                expr = rule.get("ScheduleExpression")
                if not expr or rule.get("State", "ENABLED") != "ENABLED":
                    continue
                targets = self._events.list_targets_by_rule(Rule=rule["Name"]).get("Targets", [])
                try:
                    period = rate_seconds(expr)
                    cron = None if period is not None else Cron.parse(expr)
                except ScheduleError as err:
                    logger.error("schedule rule %s not scheduled: %s", rule["Name"], err)
                    continue
                old = self._schedules.get(rule["Arn"])
                if old and old.expression == expr:
                    old.targets = targets
                    found[rule["Arn"]] = old
                    continue
                s = _Schedule(rule["Arn"], rule["Name"], expr, targets, 0.0, period, cron)
                s.next_at = self._first(s)
                found[rule["Arn"]] = s
                logger.info("schedule %s: %s -> %d target(s)", rule["Name"], expr, len(targets))
        with self._lock:
            self._schedules = found
        return len(found)

    def _first(self, s: _Schedule) -> float:
        now = self._clock()
        if s.period is not None:
            return now + s.period / self._speedup
        assert s.cron is not None
        nxt = s.cron.next_after(datetime.fromtimestamp(now, UTC))
        return nxt.timestamp() if nxt else float("inf")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._sleep(0.1)

    def tick(self) -> None:
        now = self._clock()
        with self._lock:
            due = [s for s in self._schedules.values() if s.next_at <= now]
        for s in due:
            self._fire(s, now)
            if s.period is not None:
                s.next_at += s.period / self._speedup
                if s.next_at <= now:  # fell behind (suspended laptop): skip missed runs, as AWS does
                    s.next_at = now + s.period / self._speedup
            else:
                s.next_at = self._first(s)

    def _fire(self, s: _Schedule, now: float) -> None:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self._account,
            "time": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self._region,
            "resources": [s.rule_arn],
            "detail": {},
        }
        for target in s.targets:
            arn = target.get("Arn", "")
            if ":lambda:" not in arn:
                logger.warning("schedule %s: target %s is not a Lambda function; not supported locally", s.rule_name, arn)
                continue
            payload = target["Input"].encode() if target.get("Input") else json.dumps(event).encode()
            try:
                self._submit(arn, payload, "events:schedule")
                self.fired += 1
            except Exception:  # noqa: BLE001 - one bad target must not stop the others; it is logged
                logger.exception("schedule %s: could not invoke %s", s.rule_name, arn)
