"""``folkmoot healthcheck``: ask a running folkmoot's ``/healthz``, for a container's
HEALTHCHECK or a service monitor. It finds the endpoint from the same settings as
``folkmoot run`` (``FOLKMOOT_HTTP_PORT`` / ``[http] port``, and the host), so the two
cannot disagree; a host of every interface (``0.0.0.0``, ``::``) is asked on loopback.

Exit 0 when the answer is 200, else 1 (503, nothing listening, the endpoint off), with
the answer or the reason on one line."""

from __future__ import annotations

import urllib.error
import urllib.request

from bot.config import FileConfig, Settings

TIMEOUT = 5.0
"""Seconds to wait for the answer (``folkmoot run`` gives the database 3 s of it)."""
LOOPBACK = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def url(settings: Settings, config: FileConfig) -> str | None:
    """Where ``folkmoot run`` serves ``/healthz`` with these settings; None when off."""
    address = settings.http_address(config)
    if address is None:
        return None
    host, port = address
    host = LOOPBACK.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/healthz"


def run(settings: Settings, config: FileConfig) -> int:
    where = url(settings, config)
    if where is None:
        print("folkmoot healthcheck: /healthz is off; set FOLKMOOT_HTTP_PORT (or [http] port)")
        return 1
    try:
        with urllib.request.urlopen(where, timeout=TIMEOUT) as response:
            print(response.read().decode("utf-8", "replace").strip())
            return 0
    except urllib.error.HTTPError as error:  # 503: something is down; the body says what
        print(f"{error.code}: {error.read().decode('utf-8', 'replace').strip()}")
        return 1
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        print(f"folkmoot healthcheck: no answer from {where} ({reason})")
        return 1
