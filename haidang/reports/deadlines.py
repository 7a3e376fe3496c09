"""The plans' report deadlines: which reports are due on a day, and queueing one for the compiling agency.

A report covers 1 January of the deadline's year up to the day before it is made, and is due
from `reports.days_before` days before its deadline until the deadline itself; `queue_report` is
idempotent per deadline and recipient, so a daily job that runs on each of those days (or twice
on one, after a restart) sends each report once, and a service that was down on the first day
still sends it on the next. The .docx and .xlsx are written to `<data>/reports/` and attached
to each email (read when it is sent); the email also says where they are kept.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from alerts.flag import flag_key
from alerts.outbox import message_id_for
from alerts.render import environment, one_line
from alerts.routing import addressees
from haidang.reports.document import summary_text, write_docx
from haidang.reports.report import REPORT_RULE, build_report, report_file_name
from haidang.reports.workbook import write_xlsx
from haidang.store.base import OutboxMessage, Store

if TYPE_CHECKING:
    from haidang.settings import Settings

__all__ = ["REPORTS_DIR", "TEMPLATES_DIR", "due_reports", "queue_due_reports", "queue_report", "report_recipients"]

_log = logging.getLogger(__name__)
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
REPORTS_DIR = "reports"        # under the data folder


def _deadline(mmdd: str, year: int) -> date:
    return date(year, int(mmdd[:2]), int(mmdd[3:]))


def due_reports(settings: Settings, today: date) -> list[tuple[date, date, date]]:
    """(start, end, deadline) of each report due on `today`: the deadline is at most `days_before`
    days ahead (and not past). start is 1 January of the deadline's year, end the day before
    `today` (or `today` on 1 January), both included."""
    cfg = settings.app.reports
    due: list[tuple[date, date, date]] = []
    for mmdd in cfg.deadlines:
        deadline = _deadline(mmdd, today.year)
        if not today <= deadline <= today + timedelta(days=cfg.days_before):
            continue
        start = date(deadline.year, 1, 1)
        due.append((start, max(start, today - timedelta(days=1)), deadline))
    return due


def report_recipients(settings: Settings) -> list[tuple[str, str]]:
    """(address, name) of each recipient: agency ids expanded; none named means the leading agency."""
    return addressees(settings.agencies, settings.app.reports.recipients)


def queue_report(store: Store, settings: Settings, deadline: date, now: datetime) -> int:
    """Build the report for `deadline` as of `now`, write its .docx and .xlsx to `<data>/reports/`,
    and queue one email per recipient; returns how many emails were new (0: already queued)."""
    tz = ZoneInfo(settings.app.timezone)
    today = now.astimezone(tz).date()
    start = date(deadline.year, 1, 1)
    end = max(start, min(deadline, today - timedelta(days=1)))
    story = f"report-{deadline.isoformat()}"
    recipients = report_recipients(settings)
    keys = [flag_key(REPORT_RULE, story, address) for address, _ in recipients]
    if len(store.outbox(keys=keys, bodies=False)) == len(set(keys)):
        return 0      # built and sent already: do not rewrite the files
    report = build_report(store, settings, start, end, now=now)
    folder = settings.data_dir / REPORTS_DIR
    files = [write_docx(report, folder / report_file_name(report, "docx")),
             write_xlsx(report, folder / report_file_name(report, "xlsx"))]
    env = environment(TEMPLATES_DIR)
    day = "%d/%m/%Y"
    context = {"province": report.province, "start": start.strftime(day), "end": end.strftime(day),
               "deadline": deadline.strftime(day), "start_iso": start.isoformat(), "end_iso": end.isoformat(),
               "summary": summary_text(report), "files": [str(f) for f in files]}
    text_template = env.get_template("report_email.txt.j2")
    subject = one_line(text_template.make_module({**context, "recipient_name": ""}).subject())  # type: ignore[attr-defined]
    added = 0
    for address, name in recipients:
        key = flag_key(REPORT_RULE, story, address)
        per = {**context, "recipient_name": name}
        added += store.enqueue(OutboxMessage(
            key=key, flag_rule=REPORT_RULE, story_id=story, recipient=address, message_id=message_id_for(key),
            subject=subject, text=text_template.render(per), html=env.get_template("report_email.html.j2").render(per),
            created_at=now, next_attempt_at=now, attachments=[str(f.resolve()) for f in files]))
    _log.info("report for deadline %s: %s; %d new messages", deadline, ", ".join(map(str, files)), added)
    return added



def queue_due_reports(store: Store, settings: Settings, now: datetime) -> int:
    """The daily job: queue every report due today (local date of `now`); returns new messages."""
    today = now.astimezone(ZoneInfo(settings.app.timezone)).date()
    return sum(queue_report(store, settings, deadline, now) for _, _, deadline in due_reports(settings, today))
