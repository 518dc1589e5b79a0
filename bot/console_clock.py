"""The console's simulated time, kept in the data directory (``console-clock``) so a
restart never moves it backwards: what the database recorded (votes, closes, the
decision log) stays in the past of whatever comes next."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from bot.config import ConfigError

FILE = "console-clock"


def saved(data_dir: Path) -> datetime | None:
    """Where the last console left its clock; None if no console ran here yet."""
    path = data_dir / FILE
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read the console's clock in {path}: {error}") from None
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            raise ValueError("no UTC offset")
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ConfigError(
            f"{path} does not hold a time with a UTC offset; correct it, or delete it "
            "to start the console's clock from now"
        ) from None


def start_time(data_dir: Path, asked: datetime | None) -> datetime:
    """The clock's start: `asked` (``--start``), refused if before the saved time; with
    none, now or the saved time, whichever is later."""
    last = saved(data_dir)
    if asked is not None:
        if last is not None and asked < last:
            raise ConfigError(
                f"--start {asked.isoformat()} is before the console's clock in this data "
                f"directory ({last.isoformat()}): its time never runs backwards. Start "
                "later, or without --start, or use a new FOLKMOOT_DATA_DIR"
            )
        return asked
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now if last is None or now > last else last


def save(data_dir: Path, moment: datetime) -> None:
    """Keep `moment` as the clock's time: written beside, then renamed over the file."""
    path = data_dir / FILE
    partial = path.with_name(f".{FILE}.partial")
    try:
        partial.write_text(moment.astimezone(UTC).isoformat() + "\n", encoding="utf-8")
        os.replace(partial, path)
    except OSError as error:
        raise ConfigError(f"cannot keep the console's clock in {path}: {error}") from None
