"""The plan as JSON: the saved form (schemas/plan.schema.json), read back by `apply FILE`."""

from __future__ import annotations

from typing import TextIO

from reconciler.plan.file import indented_json
from reconciler.plan.plan import Plan


class JsonRenderer:
    def render(self, plan: Plan, out: TextIO) -> None:
        # Written as a saved plan is, a change at a time: the JSON of a plan of 100,000
        # creates, every document in it, is never held whole.
        for part in indented_json(plan.to_json(changes_as_they_come=True)):
            out.write(part.decode("utf-8"))
