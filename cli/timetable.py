"""When ``xxgk schedule`` runs: a TOML file of rules (the shipped default is ``cli/schedule.toml``, whose comments
describe the format), or a single ``--every`` / ``--cron`` rule, turned into APScheduler triggers in Beijing time,
and the next run times that ``--dry-run`` prints."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

DEFAULT_SCHEDULE = Path(__file__).with_name("schedule.toml")
DEFAULT_ZONE = "Asia/Shanghai"
RULE_KEYS = {"name", "cron", "at", "every_hours", "minute", "on", "from", "until"}
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ScheduleError(Exception):
    """The schedule cannot be read; the message says where and what is wrong."""


@dataclass(frozen=True)
class Rule:
    name: str
    triggers: tuple[BaseTrigger, ...]

    def next_time(self, now: datetime) -> datetime | None:
        """The first time at or after ``now`` this rule is due."""
        times = [time for trigger in self.triggers if (time := trigger.get_next_fire_time(None, now)) is not None]
        return min(times, default=None)


@dataclass(frozen=True)
class Timetable:
    source: str                 # what the plan was read from, as the user named it
    zone: ZoneInfo
    rules: tuple[Rule, ...]

    def trigger(self) -> OrTrigger:
        """One trigger for all rules: rules due at the same moment start one run, not two."""
        return OrTrigger([trigger for rule in self.rules for trigger in rule.triggers])

    def upcoming(self, start: datetime, count: int) -> list[tuple[datetime, list[str]]]:
        """The next ``count`` run times from ``start`` on (in the plan's zone), each with the rules due then."""
        plan: list[tuple[datetime, list[str]]] = []
        now = start
        while len(plan) < count:
            due = [(time, rule.name) for rule in self.rules if (time := rule.next_time(now)) is not None]
            if not due:
                break
            first = min(time for time, _name in due)
            plan.append((first.astimezone(self.zone), [name for time, name in due if time == first]))
            now = first + timedelta(seconds=1)
        return plan


# ---------------------------------------------------------------- reading

def load_timetable(path: str | Path | None = None) -> Timetable:
    """The schedule file at ``path``, or the shipped default."""
    path = Path(path) if path else DEFAULT_SCHEDULE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScheduleError(f"cannot read the schedule {path}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScheduleError(f"{path}: not TOML: {exc}") from exc
    try:
        return timetable_from(data, source=str(path))
    except ScheduleError as exc:
        raise ScheduleError(f"{path}: {exc}") from exc


def timetable_from(data: dict, *, source: str) -> Timetable:
    unknown = set(data) - {"time_zone", "run"}
    if unknown:
        raise ScheduleError(f"unknown setting {', '.join(sorted(unknown))} (expected time_zone and [[run]] rules)")
    zone = _zone(data.get("time_zone", DEFAULT_ZONE))
    runs = data.get("run")
    if not isinstance(runs, list) or not runs or not all(isinstance(run, dict) for run in runs):
        raise ScheduleError("no [[run]] rules")
    return Timetable(source, zone, tuple(_rule(number, run, zone) for number, run in enumerate(runs, 1)))


def every_timetable(text: str, start: datetime, zone: str = DEFAULT_ZONE) -> Timetable:
    """``--every 6h``: every so long, the first run one interval after ``start``."""
    seconds = duration_seconds(text)
    tz = _zone(zone)
    trigger = IntervalTrigger(seconds=seconds, start_date=start + timedelta(seconds=seconds), timezone=tz)
    return Timetable(f"--every {text}", tz, (Rule(f"每 {text}", (trigger,)),))


def cron_timetable(expression: str, zone: str = DEFAULT_ZONE) -> Timetable:
    """``--cron '0 3 * * *'``: a crontab line, in Beijing time like every other schedule."""
    tz = _zone(zone)
    try:
        trigger = crontab_trigger(expression, tz)
    except ValueError as exc:
        raise ScheduleError(f"--cron {expression!r}: {exc}") from None
    return Timetable(f"--cron '{expression}'", tz, (Rule(f"cron {expression}", (trigger,)),))


def crontab_trigger(expression: str, zone: ZoneInfo) -> CronTrigger:
    """A crontab line as crontab reads it. APScheduler 3 counts weekdays from Monday = 0, crontab from
    Sunday = 0 (and 7): numbered weekdays are turned into names first, so '0 3 * * 1' is Monday."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}")
    minute, hour, day, month, weekday = fields
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=_weekday_names(weekday),
                       timezone=zone)


def _weekday_names(field: str) -> str:
    names = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
    days: list[str] = []
    for part in field.split(","):
        if not any(ch.isdigit() for ch in part):   # '*', 'mon-fri': the same in both
            days.append(part)
            continue
        span, _, step = part.partition("/")
        try:
            first, _, last = span.partition("-")
            first_day = 0 if first == "*" else int(first)
            last_day = int(last) if last else 6 if step or first == "*" else first_day
            step_days = int(step) if step else 1
        except ValueError:
            raise ValueError(f"day-of-week {part!r}: expected numbers 0-7 (0 and 7 are Sunday) or names") from None
        if not (0 <= first_day <= last_day <= 7 and step_days > 0):
            raise ValueError(f"day-of-week {part!r}: days are 0-7 (0 and 7 are Sunday)")
        days += [names[day] for day in range(first_day, last_day + 1, step_days)]
    return ",".join(dict.fromkeys(days))


def duration_seconds(text: str) -> float:
    """30m, 6h, 1d (or plain seconds)."""
    raw = text.strip().lower()
    try:
        value = float(raw[:-1]) * DURATION_UNITS[raw[-1]] if raw and raw[-1] in DURATION_UNITS else float(raw)
    except ValueError:
        raise ScheduleError(f"--every takes a duration such as 30m, 6h or 1d, not {text!r}") from None
    if value <= 0:
        raise ScheduleError("--every must be a positive duration")
    return value


def _zone(name) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"time_zone {name!r} is not a time zone such as Asia/Shanghai") from None


def _rule(number: int, table: dict, zone: ZoneInfo) -> Rule:
    where = f"[[run]] #{number}"
    unknown = set(table) - RULE_KEYS
    if unknown:
        raise ScheduleError(f"{where}: unknown key {', '.join(sorted(unknown))} (expected {', '.join(sorted(RULE_KEYS))})")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ScheduleError(f"{where}: needs a name")
    where = f"[[run]] {name!r}"
    if "cron" in table:
        others = set(table) - {"name", "cron"}
        if others:
            raise ScheduleError(f"{where}: cron cannot be combined with {', '.join(sorted(others))}")
        try:
            return Rule(name, (crontab_trigger(str(table["cron"]), zone),))
        except ValueError as exc:
            raise ScheduleError(f"{where}: cron {table['cron']!r}: {exc}") from None
    hour, minute = _time_of_day(where, table)
    days = _days(where, table)
    if not days:
        return Rule(name, (CronTrigger(hour=hour, minute=minute, timezone=zone),))
    return Rule(name, tuple(CronTrigger(month=month, day=day, hour=hour, minute=minute, timezone=zone)
                            for month, day in days))


def _time_of_day(where: str, table: dict) -> tuple[str, str]:
    """The cron hour and minute fields of ``at = "HH:MM"`` or ``every_hours = N`` (with ``minute``)."""
    if ("at" in table) == ("every_hours" in table):
        raise ScheduleError(f"{where}: needs either at = \"HH:MM\" or every_hours = N (or cron)")
    if "at" in table:
        if "minute" in table:
            raise ScheduleError(f"{where}: minute goes with every_hours, at names the minute itself")
        try:
            moment = datetime.strptime(str(table["at"]), "%H:%M")
        except ValueError:
            raise ScheduleError(f"{where}: at {table['at']!r} is not a time of day such as \"02:30\"") from None
        return str(moment.hour), str(moment.minute)
    every, minute = table["every_hours"], table.get("minute", 0)
    if isinstance(every, bool) or not isinstance(every, int) or not 1 <= every <= 24:
        raise ScheduleError(f"{where}: every_hours must be a whole number of hours from 1 to 24")
    if isinstance(minute, bool) or not isinstance(minute, int) or not 0 <= minute <= 59:
        raise ScheduleError(f"{where}: minute must be a whole number from 0 to 59")
    return f"*/{every}", str(minute)


def _days(where: str, table: dict) -> list[tuple[int, str]]:
    """(month, cron day field) pairs of the rule's days; empty for every day."""
    window = "from" in table or "until" in table
    if window and "on" in table:
        raise ScheduleError(f"{where}: use either on = [...] or from/until, not both")
    if "on" in table:
        days = table["on"]
        if not isinstance(days, list) or not days:
            raise ScheduleError(f"{where}: on must be a list of days such as [\"02-01\", \"04-01\"]")
        return [(month, str(day)) for month, day in (_month_day(where, "on", text) for text in days)]
    if not window:
        return []
    if "from" not in table or "until" not in table:
        raise ScheduleError(f"{where}: from and until go together")
    first, last = _month_day(where, "from", table["from"]), _month_day(where, "until", table["until"])
    months = list(range(first[0], 13)) + list(range(1, last[0] + 1)) if first > last else \
        list(range(first[0], last[0] + 1))
    days = []
    for index, month in enumerate(months):
        low = first[1] if index == 0 else 1
        high = last[1] if index == len(months) - 1 else 31   # cron clamps 31 to the month's last day
        days.append((month, "*" if (low, high) == (1, 31) else f"{low}-{high}"))
    return days


def _month_day(where: str, key: str, text) -> tuple[int, int]:
    try:
        day = date.fromisoformat(f"2000-{text}")   # a leap year: 02-29 is a day
    except (ValueError, TypeError):
        raise ScheduleError(f"{where}: {key} {text!r} is not a day such as \"01-31\" (MM-DD)") from None
    return day.month, day.day
