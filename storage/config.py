"""Runtime configuration, read once from the environment with embedded defaults.

Every component that needs a path, a database or an object store takes a ``Config``;
nothing else reads ``XXGK_*`` variables.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping


# Debian's Chromium (never a browser downloaded by `playwright install`), headless, for every part that renders a
# page: JavaScript listings in the crawl, screenshots of archived reports, the web-UI tests.
CHROMIUM_LAUNCH_OPTIONS = {
    # Debian's headless-only Chromium (package chromium-headless-shell, from the same `chromium` source and version),
    # the program Playwright itself runs headless; measured on benchmarks/pipeline.py's shipped crawl against the
    # full browser: Chromium's CPU 54 → 44 s, its peak RSS 1,536 → 1,045 MB, a screenshot 84 → 69 ms of CPU.
    # The program itself, not /usr/bin's wrapper script, which stays as one more process around it.
    "executable_path": "/usr/lib/chromium/chromium-headless-shell",
    "headless": True,
    # a renderer process per site would be one per portal: pages share a few instead (the browser holds no
    # user's data for one site to steal from another; headless Chromium isolates no sites unless told to, the
    # switch keeps it so); software compositing in the browser process, not a GPU process of its own (a
    # screenshot: 99 → 90 ms of CPU). No `--disable-features` here: Chromium keeps only the last one given, so a
    # second would silently re-enable every feature Playwright's own list turns off (PaintHolding,
    # ThirdPartyStoragePartitioning, AvoidCorsURLLoaderRestartOnRedirect under request interception, …).
    "args": ["--no-sandbox", "--disable-gpu", "--in-process-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
             "--renderer-process-limit=4", "--disable-site-isolation-trials"],
}


REDIS_SCHEMES = ("redis://", "rediss://", "unix://")   # what redis-py's from_url takes


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r}: expected one of 1/0, true/false, yes/no")


@dataclass(frozen=True)
class Config:
    data_dir: Path
    database_url: str
    s3_endpoint: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_bucket: str = "xxgk"
    s3_secure: bool = False
    redis_url: str | None = None
    alerts_file: Path | None = None     # named by --alerts or XXGK_ALERTS; else alerts_path's default, if present

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, data_dir: str | Path | None = None,
                 alerts_file: str | Path | None = None) -> "Config":
        env = os.environ if env is None else env
        alerts = alerts_file or env.get("XXGK_ALERTS") or None
        base = Path(data_dir or env.get("XXGK_DATA_DIR") or "./xxgk-data").expanduser().resolve()
        database_url = env.get("XXGK_DATABASE_URL") or f"sqlite:///{base / 'catalog.sqlite3'}"
        endpoint = env.get("XXGK_S3_ENDPOINT") or None
        config = cls(
            data_dir=base,
            database_url=database_url,
            s3_endpoint=endpoint,
            s3_access_key=env.get("XXGK_S3_ACCESS_KEY") or None,
            s3_secret_key=env.get("XXGK_S3_SECRET_KEY") or None,
            s3_bucket=env.get("XXGK_S3_BUCKET") or "xxgk",
            s3_secure=_flag(env, "XXGK_S3_SECURE", False),
            redis_url=env.get("XXGK_REDIS_URL") or None,
            alerts_file=Path(alerts).expanduser().resolve() if alerts else None,
        )
        if endpoint and not (config.s3_access_key and config.s3_secret_key):
            raise ConfigError("XXGK_S3_ENDPOINT is set but XXGK_S3_ACCESS_KEY / XXGK_S3_SECRET_KEY are not")
        if config.redis_url and not config.redis_url.lower().startswith(REDIS_SCHEMES):
            raise ConfigError(f"XXGK_REDIS_URL {config.redis_url[:80]!s}: expected a URL starting with "
                              f"{', '.join(REDIS_SCHEMES)} (e.g. redis://127.0.0.1:6379/0)")
        return config

    @property
    def alerts_path(self) -> Path:
        """The alert settings (TOML): the file named, else ``alerts.toml`` in the data directory."""
        return self.alerts_file or self.data_dir / "alerts.toml"

    @property
    def uses_s3(self) -> bool:
        return self.s3_endpoint is not None

    @property
    def objects_dir(self) -> Path:
        """Root of the local object store (used when no S3 endpoint is configured)."""
        return self.data_dir / "objects"
