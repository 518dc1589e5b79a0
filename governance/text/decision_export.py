"""Exports for the record: the decision log with every proposal (Markdown, JSON, CSV),
and a closed vote's anonymised ballots (JSON, CSV) for recounting with another tool.

The decision log's entries go out whole, each with its previous hash and its hash, so
anyone can check the chain: ``hash = SHA-256(RFC 8785 canonical JSON of {"entry":
<community, seq, at, kind, proposal, actor, data>, "prev": <previous hash>})``, the
first ``prev`` being 64 zeros (`governance.domain.decision_log`; README: "Checking the
record"). Members are named by id only, as in the log.

Ballots carry no voter and no time, and go out sorted by their content, so their order
says nothing about who voted when. A secret vote's receipt codes are a separate sorted
list: a code names no ballot.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rfc8785

from governance.domain.ballot import Choice
from governance.domain.decision_log import GENESIS, LogEntry
from governance.domain.ids import ProposalNumber
from governance.domain.lifecycle import Status
from governance.domain.methods import BallotShape, ClassBallots
from governance.domain.proposal import Proposal
from governance.domain.receipts import shown as shown_code
from governance.text.messages import Attachment, Table
from governance.text.render import policy_line, result_blocks

MAX_PROPOSALS = 1_000_000
HASHING = (
    'sha256 over the RFC 8785 canonical JSON of {"entry": {community, seq, at, kind, '
    'proposal, actor, data}, "prev": prev_hash}; the first prev_hash is 64 zeros'
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _cell(value: object) -> str:
    """A CSV cell; text a spreadsheet would run as a formula is quoted with ``'``."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv(rows: Sequence[Sequence[object]], comments: Sequence[str] = ()) -> bytes:
    out = io.StringIO()
    for comment in comments:
        out.write("# " + " ".join(comment.split()) + "\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([[_cell(v) for v in row] for row in rows])
    return out.getvalue().encode()


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2).encode()


def entry_json(entry: LogEntry) -> dict[str, Any]:
    return {**entry.body(), "prev_hash": entry.prev_hash, "hash": entry.hash}


@dataclass(frozen=True, slots=True)
class Record:
    """The decision record of a community: every proposal, and the hash-chained log."""

    community: str
    at: datetime
    proposals: Sequence[Proposal]
    outcomes: Mapping[ProposalNumber, str | None]
    entries: Sequence[LogEntry]

    def _name(self, ext: str) -> str:
        return f"{self.community}-decisions-{self.at.date().isoformat()}.{ext}"

    def attachment(self, fmt: str) -> Attachment:
        if fmt == "json":
            return Attachment(self._name("json"), _json(self.data()), "application/json")
        if fmt == "csv":
            return Attachment(self._name("csv"), self.csv(), "text/csv")
        return Attachment(self._name("md"), self.markdown(), "text/markdown")

    def proposal_json(self, p: Proposal) -> dict[str, Any]:
        return {
            "number": p.number,
            "title": p.title,
            "body": p.body,
            "author": p.author,
            "method": p.method_name,
            "options": list(p.options),
            "policy": p.policy.to_json(reveal=p.status is Status.CLOSED),
            "status": p.status.value,
            "closed_as": None if p.closed_as is None else p.closed_as.value,
            "created_at": _iso(p.created_at),
            "opened_at": _iso(p.opened_at),
            "closes_at": _iso(p.closes_at),
            "closed_at": _iso(p.closed_at),
            "roll_size": p.roll_size,
            "result": None if p.result is None else p.result.to_json(),
            "outcome": self.outcomes.get(p.number),
        }

    def data(self) -> dict[str, Any]:
        return {
            "community": self.community,
            "exported_at": self.at.isoformat(),
            "proposals": [self.proposal_json(p) for p in self.proposals],
            "log": {
                "hashing": HASHING,
                "genesis": GENESIS,
                "entries": [entry_json(e) for e in self.entries],
            },
        }

    def markdown(self) -> bytes:
        out = [
            f"# The decisions of {self.community}",
            "",
            f"{len(self.proposals)} proposals and {len(self.entries)} decision-log entries, "
            f"exported {self.at.isoformat(timespec='minutes')}. Members are named by id. "
            "The JSON export holds the same log for checking its hash chain by machine.",
        ]
        for p in self.proposals:
            out += ["", f"## #{p.number} {p.title}", "", f"It {p.status_words}."]
            out.append(policy_line(p.method_name, p.policy, p.roll_size or None) + ".")
            if p.options:
                out.append("Options: " + " | ".join(p.options))
            if p.body:
                out += ["", *(f"> {line}" for line in p.body.splitlines())]
            if p.result is not None:
                out += ["", "### Result", ""]
                for block in result_blocks(p.result, p.method_name):
                    if isinstance(block, Table):
                        out += ["```", *block.plain(), "```"]
                    else:
                        out.append(block)
            outcome = self.outcomes.get(p.number)
            if outcome:
                out += ["", "### Outcome", "", outcome]
        out += ["", "## Decision log", "", f"Each hash: {HASHING}.", ""]
        for e in self.entries:
            about = "" if e.proposal is None else f" #{e.proposal}"
            actor = "" if e.actor is None else f" by member {e.actor}"
            out += [
                f"{e.seq}. {e.at} — {e.kind}{about}{actor}",
                f"   data: `{rfc8785.dumps(e.data).decode()}`",
                f"   prev: `{e.prev_hash}`",
                f"   hash: `{e.hash}`",
            ]
        return ("\n".join(out) + "\n").encode()

    CSV_HEADER = (
        "record",
        "community",
        "proposal",
        "title",
        "method",
        "options",
        "policy",
        "status",
        "closed_as",
        "opened_at",
        "closed_at",
        "summary",
        "explanation",
        "outcome",
        "seq",
        "at",
        "kind",
        "actor",
        "data",
        "prev_hash",
        "hash",
    )

    def csv(self) -> bytes:
        """One table: a ``proposal`` row per proposal, then a ``log`` row per entry (its
        data as canonical JSON, so its hash can be recomputed from the row)."""
        rows: list[list[object]] = [list(self.CSV_HEADER)]
        for p in self.proposals:
            result = p.result
            rows.append(
                [
                    "proposal",
                    self.community,
                    p.number,
                    p.title,
                    p.method_name,
                    " | ".join(p.options),
                    rfc8785.dumps(p.policy.to_json(reveal=p.status is Status.CLOSED)).decode(),
                    p.status.value,
                    None if p.closed_as is None else p.closed_as.value,
                    _iso(p.opened_at),
                    _iso(p.closed_at),
                    None if result is None else result.summary,
                    None if result is None else "\n".join(result.explanation),
                    self.outcomes.get(p.number),
                    *([None] * 7),
                ]
            )
        for e in self.entries:
            rows.append(
                [
                    "log",
                    e.community,
                    e.proposal,
                    *([None] * 11),
                    e.seq,
                    e.at,
                    e.kind,
                    e.actor,
                    rfc8785.dumps(e.data).decode(),
                    e.prev_hash,
                    e.hash,
                ]
            )
        return _csv(rows)


def ballot_json(p: Proposal, choice: Choice) -> dict[str, Any]:
    """One ballot in words a recount can read: option names, never indexes."""
    shape = p.method.shape
    names = p.options
    ballot: dict[str, Any]
    if shape is BallotShape.VERDICT:
        ballot = {"verdict": choice.verdict}
    elif shape is BallotShape.ONE_OPTION:
        ballot = {"choice": names[choice.options[0]] if choice.options else None}
    elif shape is BallotShape.OPTION_SET:
        ballot = {"approved": [names[i] for i in sorted(choice.options)]}
    elif shape is BallotShape.RANKING:
        ballot = {"ranking": [names[i] for i in choice.options]}
    else:
        key = "scores" if shape is BallotShape.SCORES else "dots"
        ballot = {key: {names[i]: m for i, m in enumerate(choice.marks) if m is not None}}
    if choice.reason is not None:
        ballot["reason"] = choice.reason
    return ballot


def _row(p: Proposal, choice: Choice) -> list[object]:
    shape = p.method.shape
    if shape is BallotShape.VERDICT:
        return [choice.verdict, choice.reason]
    if shape is BallotShape.ONE_OPTION:
        return [p.options[choice.options[0]] if choice.options else None]
    if shape is BallotShape.OPTION_SET:
        return [1 if i in choice.options else 0 for i in range(len(p.options))]
    if shape is BallotShape.RANKING:
        ranks = {o: r for r, o in enumerate(choice.options, 1)}
        return [ranks.get(i) for i in range(len(p.options))]
    marks: list[object] = [*choice.marks, *([None] * (len(p.options) - len(choice.marks)))]
    return marks


def _row_header(p: Proposal) -> list[str]:
    shape = p.method.shape
    if shape is BallotShape.VERDICT:
        return ["verdict", "reason"]
    if shape is BallotShape.ONE_OPTION:
        return ["choice"]
    return list(p.options)


_CSV_MEANING = {
    BallotShape.VERDICT: "one row per ballot: its verdict and reason",
    BallotShape.ONE_OPTION: "one row per ballot: the option chosen",
    BallotShape.OPTION_SET: "one row per ballot, a column per option: 1 approved, 0 not",
    BallotShape.RANKING: "one row per ballot, a column per option: its rank (1 = first), "
    "blank = not ranked",
    BallotShape.SCORES: "one row per ballot, a column per option: its score, blank = no score",
    BallotShape.DOTS: "one row per ballot, a column per option: its dots",
}


@dataclass(frozen=True, slots=True)
class BallotSheet:
    """A closed vote's ballots, anonymised: no voter, no time, sorted by content."""

    proposal: Proposal
    at: datetime
    groups: Sequence[ClassBallots]
    receipts: Sequence[str] | None
    """A secret vote's receipt codes, sorted; None for an open vote."""

    def _name(self, ext: str) -> str:
        return f"{self.proposal.community}-proposal-{self.proposal.number}-ballots.{ext}"

    @property
    def with_classes(self) -> bool:
        return bool(self.proposal.policy.classes)

    def ballots(self) -> list[dict[str, Any]]:
        """Every ballot (with its voter's class where classes count), sorted by content."""
        out = []
        for group in self.groups:
            for choice in group.ballots:
                ballot = ballot_json(self.proposal, choice)
                if self.with_classes:
                    ballot = {"class": group.name, **ballot}
                out.append(ballot)
        return sorted(out, key=lambda b: rfc8785.dumps(b))

    def data(self) -> dict[str, Any]:
        p = self.proposal
        data: dict[str, Any] = {
            "community": p.community,
            "proposal": p.number,
            "title": p.title,
            "method": p.method_name,
            "options": list(p.options),
            "policy": p.policy.to_json(reveal=p.status is Status.CLOSED),
            "closed_at": _iso(p.closed_at),
            "roll_size": p.roll_size,
            "result": None if p.result is None else p.result.to_json(),
            "exported_at": self.at.isoformat(),
            "ballots": self.ballots(),
        }
        if self.with_classes:
            data["class_sizes"] = {str(g.name): g.roll for g in self.groups}
        if self.receipts is not None:
            data["receipts"] = [shown_code(c) for c in self.receipts]
        return data

    def attachment(self, fmt: str) -> Attachment:
        if fmt == "csv":
            return Attachment(self._name("csv"), self.csv(), "text/csv")
        return Attachment(self._name("json"), _json(self.data()), "application/json")

    def csv(self) -> bytes:
        p = self.proposal
        comments = [
            f"folkmoot ballots of {p.community} #{p.number} {p.title}",
            f"method: {p.method_name}",
            "options: " + " | ".join(p.options),
            "policy: " + rfc8785.dumps(p.policy.to_json(reveal=p.status is Status.CLOSED)).decode(),
            _CSV_MEANING[p.method.shape] + "; sorted by content, not by time",
        ]
        if p.result is not None:
            comments.append(f"result: {p.result.summary}")
        if self.receipts is not None:
            comments.append(
                "receipts: " + (" ".join(shown_code(c) for c in self.receipts) or "none")
            )
        header = (["class"] if self.with_classes else []) + _row_header(p)
        rows: list[list[object]] = []
        for group in self.groups:
            for choice in group.ballots:
                rows.append(([group.name] if self.with_classes else []) + _row(p, choice))
        rows.sort(key=lambda r: [("" if v is None else str(v)) for v in r])
        return _csv([header, *rows], comments)
