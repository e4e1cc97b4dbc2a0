"""The plan as JSON: the saved form (schemas/plan.schema.json), read back by `apply FILE`."""

from __future__ import annotations

from typing import TextIO

from reconciler.plan.plan import Plan
from reconciler.render import write_json


class JsonRenderer:
    def render(self, plan: Plan, out: TextIO) -> None:
        write_json(plan.to_json(), out)
