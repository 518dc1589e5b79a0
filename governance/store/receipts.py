"""Receipt codes of secret ballots (`governance.domain.receipts`): a table with no voter
column, whose rows are found while the vote is open by a keyed holder tag only."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, delete, insert, or_, select

from governance.domain.ids import ProposalId
from governance.service.ports import ReceiptKey, ReceiptWrite
from governance.store import tables as t
from governance.store.repositories import _Repo

R = t.receipts
_CHUNK = 400


class ReceiptRepo(_Repo):
    async def held(self, keys: Sequence[ReceiptKey]) -> dict[ReceiptKey, str]:
        found: dict[ReceiptKey, str] = {}
        keys = list(keys)
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            query = select(R.c.proposal_id, R.c.holder, R.c.code).where(
                or_(*(and_(R.c.proposal_id == p, R.c.holder == h) for p, h in chunk))
            )
            for row in await self.conn.execute(query):
                found[(ProposalId(row.proposal_id), str(row.holder))] = str(row.code)
        return found

    async def write(self, writes: Sequence[ReceiptWrite]) -> None:
        """Each holder's final code replaces the one it held (None: it holds none)."""
        final: dict[ReceiptKey, str | None] = {}
        for w in writes:
            final[(w.proposal, w.holder)] = w.code
        for key in final:
            await self.conn.execute(
                delete(R).where(R.c.proposal_id == key[0], R.c.holder == key[1])
            )
        rows = [
            {"proposal_id": p, "holder": h, "code": code}
            for (p, h), code in final.items()
            if code is not None
        ]
        if rows:
            await self.conn.execute(insert(R), rows)

    async def seal(self, proposal: ProposalId) -> list[str]:
        """At close (after the key is destroyed): clear every holder tag and rewrite the
        rows in code order, so nothing says who held a code or when it was issued.
        Returns the codes, sorted: the list published with the count."""
        codes = sorted(
            str(c)
            for c in await self.conn.scalars(select(R.c.code).where(R.c.proposal_id == proposal))
        )
        await self.conn.execute(delete(R).where(R.c.proposal_id == proposal))
        if codes:
            await self.conn.execute(
                insert(R), [{"proposal_id": proposal, "code": c, "holder": None} for c in codes]
            )
        return codes

    async def codes(self, proposal: ProposalId) -> list[str]:
        query = select(R.c.code).where(R.c.proposal_id == proposal).order_by(R.c.code)
        return [str(c) for c in await self.conn.scalars(query)]
