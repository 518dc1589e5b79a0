"""The decision log's hash chain: anyone can check nothing was rewritten."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import rfc8785

from governance.domain.decision_log import GENESIS, LogEntry, chain_hash, verify_chain


def make_chain(datas: list[dict[str, Any]], community: str = "demo") -> list[LogEntry]:
    entries: list[LogEntry] = []
    prev = GENESIS
    for seq, data in enumerate(datas, start=1):
        body: dict[str, Any] = {
            "community": community,
            "seq": seq,
            "at": f"2026-10-2{seq}T09:00:00Z",
            "kind": "proposal_opened" if seq == 1 else "vote_closed",
            "proposal": 12,
            "actor": 7 if seq != 3 else None,
            "data": data,
        }
        digest = chain_hash(body, prev)
        entries.append(LogEntry(**body, prev_hash=prev, hash=digest))
        prev = digest
    return entries


DATAS: list[dict[str, Any]] = [
    {"title": "Buy an oven", "method": "consent"},
    {"result": "Passed — 3 consent, 0 stand aside", "ballots": 3},
    {"outcome": "Bob orders the oven by Friday"},
]


def test_chain_hash_is_sha256_of_the_canonical_json_of_entry_and_prev() -> None:
    body: dict[str, Any] = {"community": "demo", "seq": 1, "data": {"b": 1, "a": "é"}}
    expected = hashlib.sha256(
        b'{"entry":{"community":"demo","data":{"a":"\xc3\xa9","b":1},"seq":1},"prev":"'
        + GENESIS.encode()
        + b'"}'
    ).hexdigest()
    assert chain_hash(body, GENESIS) == expected
    assert rfc8785.dumps({"entry": body, "prev": GENESIS}).startswith(b'{"entry":{"community"')
    # Key order in the Python dict does not matter; the canonical form does.
    reordered: dict[str, Any] = {"data": {"a": "é", "b": 1}, "seq": 1, "community": "demo"}
    assert chain_hash(reordered, GENESIS) == expected
    assert chain_hash(body, "1" * 64) != expected


def test_an_untouched_chain_verifies() -> None:
    chain = make_chain(DATAS)
    assert chain[0].prev_hash == GENESIS
    assert chain[1].prev_hash == chain[0].hash
    assert chain[2].prev_hash == chain[1].hash
    assert verify_chain(chain) is None
    assert verify_chain([]) is None


def test_tampered_data_in_entry_two_is_found_at_entry_two() -> None:
    chain = make_chain(DATAS)
    chain[1] = dataclasses.replace(chain[1], data={**chain[1].data, "ballots": 4})
    problem = verify_chain(chain)
    assert problem is not None
    assert problem.seq == 2
    assert problem.reason == "its content does not match its hash"


def test_tampered_metadata_is_found() -> None:
    chain = make_chain(DATAS)
    chain[2] = dataclasses.replace(chain[2], actor=8)
    problem = verify_chain(chain)
    assert problem is not None
    assert problem.seq == 3


def test_rewriting_an_entry_and_rehashing_it_breaks_the_next_link() -> None:
    chain = make_chain(DATAS)
    forged = dataclasses.replace(chain[0], data={"title": "Buy two ovens", "method": "consent"})
    forged = dataclasses.replace(forged, hash=chain_hash(forged.body(), GENESIS))
    chain[0] = forged
    problem = verify_chain(chain)
    assert problem is not None
    assert problem.seq == 2
    assert problem.reason == "its previous-hash does not match the entry before it"


def test_reordered_entries_are_found() -> None:
    chain = make_chain(DATAS)
    problem = verify_chain([chain[0], chain[2], chain[1]])
    assert problem is not None
    assert problem.seq == 3
    assert problem.reason == "expected entry 2, found 3"


def test_a_missing_entry_is_found() -> None:
    chain = make_chain(DATAS)
    problem = verify_chain([chain[0], chain[2]])
    assert problem is not None
    assert problem.seq == 3
    assert problem.reason == "expected entry 2, found 3"


def test_a_missing_first_entry_is_found() -> None:
    chain = make_chain(DATAS)
    problem = verify_chain(chain[1:])
    assert problem is not None
    assert problem.seq == 2
    assert problem.reason == "expected entry 1, found 2"


def test_a_wrong_previous_hash_is_found_even_when_the_entry_hash_matches_it() -> None:
    chain = make_chain(DATAS)
    wrong_prev = "f" * 64
    bad = dataclasses.replace(chain[1], prev_hash=wrong_prev)
    bad = dataclasses.replace(bad, hash=chain_hash(bad.body(), wrong_prev))
    problem = verify_chain([chain[0], bad, chain[2]])
    assert problem is not None
    assert problem.seq == 2
    assert problem.reason == "its previous-hash does not match the entry before it"


def test_the_first_entry_must_start_from_genesis() -> None:
    chain = make_chain(DATAS)
    other = "a" * 64
    first = dataclasses.replace(chain[0], prev_hash=other)
    first = dataclasses.replace(first, hash=chain_hash(first.body(), other))
    problem = verify_chain([first])
    assert problem is not None
    assert problem.seq == 1
