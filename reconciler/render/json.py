"""The plan as JSON: the saved form (schemas/plan.schema.json), read back by `apply FILE`."""

from __future__ import annotations

import json
from typing import TextIO

from reconciler.plan import Plan


class JsonRenderer:
    def render(self, plan: Plan, out: TextIO) -> None:
        json.dump(plan.to_json(), out, indent=2, ensure_ascii=False)
        out.write("\n")
