"""Sending alerts: every undelivered event of each channel, as one message per event or one digest, over an HTTP
webhook or SMTP; each result is written to ``alert_deliveries`` as soon as it is known.

A message that fails (receiver down, HTTP 5xx, SMTP refusal) is tried again at once a bounded number of times
(``retries``, short growing pauses) when the failure may pass, then left pending: the next run sends it. A
channel that failed is not tried again in the same run, so an outage costs one message's retries, not one per
event. A message is marked sent right after the receiver accepted it; webhooks carry an ``Idempotency-Key``
header and e-mails a stable ``Message-ID`` for the one case this cannot cover (the catalog write failing after
the send).
"""
from __future__ import annotations

import hashlib
import json
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate

import httpx

from monitor.alert_messages import Links, Message, render, render_digest, render_test
from monitor.alert_settings import AlertSettings, Email, Webhook
from storage.catalog import Catalog, queries
from storage.catalog.models import AlertEvent

FIRST_PAUSE = 0.5      # seconds before the first immediate retry; doubled each time
MAX_PAUSE = 5.0
USER_AGENT = "xxgk-watch alerts"


class SendError(Exception):
    """A message was not accepted; ``transient``: trying again soon may work; ``unreachable``: the server did not
    answer at all (its other channels need not be tried now)."""

    def __init__(self, message: str, *, transient: bool, unreachable: bool = False):
        super().__init__(message)
        self.transient = transient
        self.unreachable = unreachable


@dataclass
class DeliveryResult:
    sent_messages: int = 0
    sent_events: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)     # (channel, last error)
    skipped: list[str] = field(default_factory=list)                   # channels not tried: their server was down

    def failure_line(self) -> str | None:
        """One line for stderr, or None when everything went."""
        if not self.failures:
            return None
        what = "；".join(f"{channel}：{error}" for channel, error in self.failures[:3])
        more = f"；另有 {len(self.failures) - 3} 个渠道" if len(self.failures) > 3 else ""
        skipped = f"（同一服务器的 {len(self.skipped)} 个渠道未尝试）" if self.skipped else ""
        return f"告警未能送达：{what}{more}{skipped}；下次运行时重试"


# ---------------------------------------------------------------- transports

def send_webhook(hook: Webhook, body: dict, idempotency_key: str) -> None:
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
               "Idempotency-Key": idempotency_key, **dict(hook.headers)}
    content = json.dumps(body, ensure_ascii=False).encode("utf-8")
    try:
        response = httpx.post(hook.url, content=content, headers=headers, timeout=hook.timeout,
                              follow_redirects=False)
    except httpx.TimeoutException:
        raise SendError(f"{hook.timeout:g} 秒内没有应答", transient=True, unreachable=True) from None
    except httpx.TransportError as exc:
        raise SendError(f"无法连接（{exc or type(exc).__name__}）", transient=True, unreachable=True) from None
    if not 200 <= response.status_code < 300:
        snippet = " ".join(response.text.split())[:120]
        raise SendError(f"HTTP {response.status_code}" + (f" {snippet}" if snippet else ""),
                        transient=response.status_code >= 500 or response.status_code == 429)


def send_email(mail: Email, address: str, message: Message, message_id: str) -> None:
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = mail.sender
    email["To"] = address
    email["Date"] = formatdate(localtime=True)
    email["Message-ID"] = message_id
    email.set_content(message.text)
    context = ssl.create_default_context()
    try:
        if mail.security == "ssl":
            smtp = smtplib.SMTP_SSL(mail.host, mail.port, timeout=mail.timeout, context=context)
        else:
            smtp = smtplib.SMTP(mail.host, mail.port, timeout=mail.timeout)
        with smtp:
            if mail.security == "starttls":
                smtp.starttls(context=context)
            if mail.user:
                smtp.login(mail.user, mail.password or "")
            smtp.send_message(email, from_addr=mail.sender, to_addrs=[address])
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _text in exc.recipients.values()]
        raise SendError(_smtp_text(*next(iter(exc.recipients.values()))),
                        transient=all(400 <= code < 500 for code in codes)) from None
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError) as exc:
        raise SendError(f"SMTP 服务器断开或拒绝连接（{exc}）", transient=True, unreachable=True) from None
    except smtplib.SMTPResponseException as exc:
        raise SendError(_smtp_text(exc.smtp_code, exc.smtp_error), transient=400 <= exc.smtp_code < 500) from None
    except smtplib.SMTPException as exc:
        raise SendError(f"SMTP：{exc}", transient=False) from None
    except (OSError, ssl.SSLError) as exc:
        raise SendError(f"无法连接 SMTP 服务器 {mail.host}:{mail.port}（{exc.strerror or exc}）", transient=True,
                        unreachable=True) from None
    except UnicodeEncodeError:
        # smtplib sends AUTH credentials as ASCII only
        raise SendError("SMTP 用户名或密码含非 ASCII 字符，无法登录", transient=False) from None


def _smtp_text(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"SMTP {code} {' '.join(text.split())}".strip()


def attempt(send: Callable[[], None], retries: int,
            sleep: Callable[[float], None] = time.sleep) -> tuple[int, SendError | None]:
    """Send, retrying at once while the failure may pass; (tries made, the last failure or None)."""
    tries = 0
    pause = FIRST_PAUSE
    while True:
        tries += 1
        try:
            send()
            return tries, None
        except SendError as exc:
            if not exc.transient or tries > retries:
                return tries, exc
            sleep(pause)
            pause = min(pause * 2, MAX_PAUSE)
        except Exception as exc:  # noqa: BLE001 - an unforeseen failure stays pending like any other
            return tries, SendError(f"{type(exc).__name__}: {exc}", transient=False)


# ---------------------------------------------------------------- pending deliveries

def deliver_pending(catalog: Catalog, settings: AlertSettings, links: Links, *,
                    sleep: Callable[[float], None] = time.sleep) -> DeliveryResult:
    """Send what each configured channel has not received yet (this run's events and any earlier failures)."""
    result = DeliveryResult()
    for hook in settings.webhooks:
        def send(message: Message, key: str, hook=hook) -> None:
            send_webhook(hook, message.body, key)
        _channel(catalog, hook.channel, hook.digest, links, send, settings.retries, sleep, result)
    for mail in settings.emails:
        for index, address in enumerate(mail.to):
            def send(message: Message, key: str, mail=mail, address=address) -> None:
                send_email(mail, address, message, _message_id(key, address))
            error = _channel(catalog, mail.channel(address), mail.digest, links, send, settings.retries, sleep,
                             result)
            if error is not None and error.unreachable:
                result.skipped += [mail.channel(other) for other in mail.to[index + 1:]]
                break
    return result


def _channel(catalog: Catalog, channel: str, digest: bool, links: Links, send: Callable[[Message, str], None],
             retries: int, sleep: Callable[[float], None], result: DeliveryResult) -> SendError | None:
    """Send one channel's pending events; stops at the first message that does not go (the rest wait)."""
    with catalog.reading() as session:
        pending = queries.alert_deliveries(session, channel=channel, pending=True)
    if not pending:
        return None
    batches = [pending] if digest else [[item] for item in pending]
    for batch in batches:
        chosen = [event for _delivery, event in batch]
        message = render_digest(chosen, links) if digest else render(chosen[0], links)
        key = _idempotency_key(chosen)
        tries, error = attempt(lambda: send(message, key), retries, sleep)  # noqa: B023 - called at once
        with catalog.session() as session:
            queries.record_delivery(session, [delivery.id for delivery, _event in batch], attempts=tries,
                                    error=None if error is None else str(error))
        if error is not None:
            result.failures.append((channel, str(error)))
            return error
        result.sent_messages += 1
        result.sent_events += len(batch)
    return None


def _idempotency_key(events: Sequence[AlertEvent]) -> str:
    if len(events) == 1:
        return events[0].key
    return "digest:" + hashlib.sha256("\n".join(event.key for event in events).encode("utf-8")).hexdigest()[:32]


def _message_id(key: str, address: str) -> str:
    return f"<{hashlib.sha256(f'{key}|{address}'.encode('utf-8')).hexdigest()[:40]}@xxgk-watch>"


# ---------------------------------------------------------------- test messages

def send_tests(settings: AlertSettings, *, sleep: Callable[[float], None] = time.sleep) -> list[tuple[str, str | None]]:
    """A test message to every channel (nothing is recorded); (channel, error or None) for each."""
    outcomes: list[tuple[str, str | None]] = []
    for hook in settings.webhooks:
        message = render_test(settings.web_base, hook.channel)
        _tries, error = attempt(lambda hook=hook, message=message: send_webhook(hook, message.body,
                                                                                 f"test:{time.time_ns()}"), 0, sleep)
        outcomes.append((hook.channel, error and str(error)))
    for mail in settings.emails:
        for address in mail.to:
            message = render_test(settings.web_base, mail.channel(address))
            _tries, error = attempt(lambda mail=mail, address=address, message=message: send_email(
                mail, address, message, _message_id(f"test:{time.time_ns()}", address)), 0, sleep)
            outcomes.append((mail.channel(address), error and str(error)))
    return outcomes
