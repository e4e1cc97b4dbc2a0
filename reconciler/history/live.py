"""What the reconciler applied to a live customer: its audit records grouped by write.

`live history KEY` reads this; a rename leads on to the writes made under the old key.
"""

from __future__ import annotations

from reconciler.providers.base import AuditRecord, Provider


def live_writes(provider: Provider, key: str) -> list[list[AuditRecord]]:
    """Audit records grouped by write, newest first; a rename leads on to the old key's writes."""
    writes: list[list[AuditRecord]] = []
    seen = {key}
    keys = [key]
    while keys:
        current = keys.pop()
        for record in provider.read_audit(current):
            if writes and _write_of(writes[-1][0]) == _write_of(record):
                writes[-1].append(record)
            else:
                writes.append([record])
            if record.action == "rename" and isinstance(record.before, str) and record.before not in seen:
                seen.add(record.before)
                keys.append(record.before)
    # Newest first between writes; within one, the order it recorded its fields in.
    return [list(reversed(records)) for records in writes]


def _write_of(record: AuditRecord) -> tuple[object, ...]:
    """What the records of one write share."""
    return (record.at, record.action, record.commit, record.plan_id, record.actor, record.key)
