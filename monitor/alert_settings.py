"""Where alerts go: the alert settings file (TOML), read and checked in full before anything is sent.

::

    web_base = "https://xxgk.example.org"   # the public address of `xxgk serve`: links in messages start with it
    retries = 2                              # immediate retries of a failed message (0-5); later runs retry too

    [[webhook]]
    name = "ops"                             # the channel is webhook:ops
    url = "https://hooks.example.org/xxgk"
    headers = { "X-Team" = "opendata" }
    headers_env = { "Authorization" = "XXGK_HOOK_AUTH" }   # header values read from the environment
    kinds = ["missing", "late"]              # default: every kind (alerts.KINDS)
    digest = false                           # true: one message per run with every event

    [[email]]
    name = "office"                          # one channel per address: email:office:<address>
    host = "smtp.example.org"
    port = 587                               # default by security: 587 starttls, 465 ssl, 25 none
    security = "starttls"                    # starttls | ssl | none
    user_env = "XXGK_SMTP_USER"              # or user = "…"; the password only from the environment
    password_env = "XXGK_SMTP_PASSWORD"
    from = "xxgk@example.org"
    to = ["a@example.org", "b@example.org"]
    digest = true

Secrets never sit in the file: they are read from the variables it names, when it is loaded.
"""
from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monitor.alerts import KINDS

SECURITY_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 2
MAX_RETRIES = 5

_TOP_KEYS = {"web_base", "retries", "webhook", "email"}
_WEBHOOK_KEYS = {"name", "url", "headers", "headers_env", "kinds", "digest", "timeout"}
_EMAIL_KEYS = {"name", "host", "port", "security", "user", "user_env", "password_env", "from", "to", "kinds",
               "digest", "timeout"}


class AlertSettingsError(Exception):
    """The alert settings cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Webhook:
    name: str
    url: str
    headers: tuple[tuple[str, str], ...]
    kinds: frozenset[str]
    digest: bool
    timeout: float

    @property
    def channel(self) -> str:
        return f"webhook:{self.name}"


@dataclass(frozen=True)
class Email:
    name: str
    host: str
    port: int
    security: str
    user: str | None
    password: str | None
    sender: str
    to: tuple[str, ...]
    kinds: frozenset[str]
    digest: bool
    timeout: float

    def channel(self, address: str) -> str:
        return f"email:{self.name}:{address}"


@dataclass(frozen=True)
class AlertSettings:
    web_base: str
    webhooks: tuple[Webhook, ...] = ()
    emails: tuple[Email, ...] = ()
    retries: int = DEFAULT_RETRIES
    source: Path | None = None

    def channels_for(self, kind: str) -> list[str]:
        """Every channel that wants events of this kind."""
        return ([hook.channel for hook in self.webhooks if kind in hook.kinds]
                + [mail.channel(address) for mail in self.emails if kind in mail.kinds for address in mail.to])

    @property
    def channels(self) -> list[str]:
        return [hook.channel for hook in self.webhooks] + [mail.channel(a) for mail in self.emails for a in mail.to]


def load_settings(path: Path, env: Mapping[str, str] | None = None) -> AlertSettings:
    env = os.environ if env is None else env
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise AlertSettingsError(f"{path}: cannot read the alert settings: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise AlertSettingsError(f"{path}: not valid TOML: {exc}") from exc
    return parse_settings(data, env, source=Path(path))


def parse_settings(data: Mapping[str, Any], env: Mapping[str, str], *, source: Path | None = None) -> AlertSettings:
    where = str(source or "alert settings")
    _no_unknown(data, _TOP_KEYS, where)
    web_base = data.get("web_base")
    if not isinstance(web_base, str) or urlsplit(web_base).scheme not in ("http", "https") \
            or not urlsplit(web_base).netloc:
        raise AlertSettingsError(f"{where}: web_base must be the public http(s) address of `xxgk serve`, "
                                 f"e.g. web_base = \"https://xxgk.example.org\" (links in messages start with it)")
    retries = data.get("retries", DEFAULT_RETRIES)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
        raise AlertSettingsError(f"{where}: retries must be a whole number from 0 to {MAX_RETRIES}")
    webhooks = tuple(_webhook(entry, env, f"{where}: [[webhook]] {index}")
                     for index, entry in enumerate(_tables(data, "webhook", where), 1))
    emails = tuple(_email(entry, env, f"{where}: [[email]] {index}")
                   for index, entry in enumerate(_tables(data, "email", where), 1))
    names = [hook.channel for hook in webhooks] + [f"email:{mail.name}" for mail in emails]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise AlertSettingsError(f"{where}: channel names must be unique: {', '.join(duplicates)}")
    return AlertSettings(web_base.rstrip("/"), webhooks, emails, retries, source)


def _tables(data: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    entries = data.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(entry, Mapping) for entry in entries):
        raise AlertSettingsError(f"{where}: {key} must be written as [[{key}]] tables")
    return entries


def _no_unknown(entry: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(entry) - known)
    if unknown:  # a misspelt key would otherwise silently do nothing
        raise AlertSettingsError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")


def _name(entry: Mapping[str, Any], where: str) -> str:
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip() or ":" in name:
        raise AlertSettingsError(f"{where}: name must be a non-empty text without ':' (it names the channel)")
    return name.strip()


def _kinds(entry: Mapping[str, Any], where: str) -> frozenset[str]:
    kinds = entry.get("kinds", list(KINDS))
    if not isinstance(kinds, list) or not all(isinstance(kind, str) for kind in kinds):
        raise AlertSettingsError(f"{where}: kinds must be a list such as [\"missing\", \"late\"]")
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise AlertSettingsError(f"{where}: unknown kind(s) {', '.join(unknown)} (known: {', '.join(KINDS)})")
    return frozenset(kinds)


def _flag(entry: Mapping[str, Any], key: str, where: str) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise AlertSettingsError(f"{where}: {key} must be true or false")
    return value


def _timeout(entry: Mapping[str, Any], where: str) -> float:
    value = entry.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 300:
        raise AlertSettingsError(f"{where}: timeout must be a number of seconds from 0 to 300")
    return float(value)


def _from_env(env: Mapping[str, str], variable: Any, what: str, where: str) -> str:
    if not isinstance(variable, str) or not variable:
        raise AlertSettingsError(f"{where}: {what} must name an environment variable")
    value = env.get(variable)
    if not value:
        raise AlertSettingsError(f"{where}: the environment variable {variable} ({what}) is not set")
    return value


def _webhook(entry: Mapping[str, Any], env: Mapping[str, str], where: str) -> Webhook:
    _no_unknown(entry, _WEBHOOK_KEYS, where)
    name = _name(entry, where)
    where = f"{where} ({name})"
    url = entry.get("url")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise AlertSettingsError(f"{where}: url must be an http(s) address")
    headers = entry.get("headers", {})
    secret_headers = entry.get("headers_env", {})
    if not isinstance(headers, Mapping) or not all(isinstance(v, str) for v in headers.values()):
        raise AlertSettingsError(f"{where}: headers must be a table of texts, e.g. headers = {{ \"X-Team\" = \"a\" }}")
    if not isinstance(secret_headers, Mapping):
        raise AlertSettingsError(f"{where}: headers_env must be a table of header = environment variable")
    pairs = [(str(key), value) for key, value in headers.items()]
    pairs += [(str(key), _from_env(env, variable, f"header {key}", where)) for key, variable in secret_headers.items()]
    return Webhook(name, url, tuple(pairs), _kinds(entry, where), _flag(entry, "digest", where),
                   _timeout(entry, where))


def _email(entry: Mapping[str, Any], env: Mapping[str, str], where: str) -> Email:
    _no_unknown(entry, _EMAIL_KEYS, where)
    name = _name(entry, where)
    where = f"{where} ({name})"
    host = entry.get("host")
    if not isinstance(host, str) or not host:
        raise AlertSettingsError(f"{where}: host must name the SMTP server")
    security = entry.get("security", "starttls")
    if security not in SECURITY_PORTS:
        raise AlertSettingsError(f"{where}: security must be one of {', '.join(SECURITY_PORTS)}")
    port = entry.get("port", SECURITY_PORTS[security])
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise AlertSettingsError(f"{where}: port must be a port number")
    if "user" in entry and "user_env" in entry:
        raise AlertSettingsError(f"{where}: give user or user_env, not both")
    user = (_from_env(env, entry["user_env"], "user_env", where) if "user_env" in entry
            else entry.get("user"))
    if user is not None and not isinstance(user, str):
        raise AlertSettingsError(f"{where}: user must be a text")
    password = _from_env(env, entry["password_env"], "password_env", where) if "password_env" in entry else None
    if password is not None and not user:
        raise AlertSettingsError(f"{where}: password_env needs a user (user or user_env)")
    sender = entry.get("from")
    if not isinstance(sender, str) or "@" not in sender:
        raise AlertSettingsError(f"{where}: from must be an e-mail address")
    to = entry.get("to")
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, list) or not to or not all(isinstance(a, str) and "@" in a for a in to):
        raise AlertSettingsError(f"{where}: to must be a list of e-mail addresses")
    return Email(name, host, port, security, user or None, password, sender, tuple(dict.fromkeys(to)),
                 _kinds(entry, where), _flag(entry, "digest", where), _timeout(entry, where))
