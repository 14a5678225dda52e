"""Parameter overrides remembered between `up`s, as `sam deploy` keeps them in samconfig.toml.

`make up PARAMS="CooldownHours=0"` once, then a plain `make up`, must not silently revert the
cooldown to the template default. The overrides given last are stored per stack in
``<state dir>/parameters.json`` and applied again until a new value overrides them. ``--fresh``
empties the data but keeps this file, as deleting a stack keeps samconfig.toml; ``--reset-parameters``
forgets it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

LOG = logging.getLogger("localcloud")
PARAMETERS_FILE = "parameters.json"


@dataclass(frozen=True)
class EffectiveOverrides:
    values: dict[str, str]  # what the deploy gets
    given: frozenset[str]  # named on this command line
    remembered: frozenset[str]  # from an earlier up, not named this time


class SavedParameters:
    def __init__(self, state_dir: Path):
        self.path = state_dir / PARAMETERS_FILE

    def _all(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as err:
            LOG.warning("ignoring %s (%s): the template defaults apply", self.path, err)
            return {}
        return {str(k): {str(n): str(v) for n, v in (vals or {}).items()} for k, vals in data.items()
                if isinstance(vals, dict)} if isinstance(data, dict) else {}

    def merge(self, stack_name: str, given: Mapping[str, str], declared: Mapping[str, object]) -> EffectiveOverrides:
        """Remembered overrides the template still declares, with this run's `given` on top."""
        remembered = self._all().get(stack_name, {})
        dropped = sorted(set(remembered) - set(declared))
        if dropped:
            LOG.warning("remembered parameter overrides %s are not declared by this template: not applied", dropped)
        kept = {k: v for k, v in remembered.items() if k in declared and k not in given}
        return EffectiveOverrides({**kept, **given}, frozenset(given), frozenset(kept))

    def save(self, stack_name: str, overrides: Mapping[str, str]) -> None:
        data = self._all()
        data[stack_name] = dict(overrides)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2, sort_keys=True)
            out.write("\n")
        os.replace(temporary, self.path)

    def forget(self, stack_name: str) -> None:
        self.save(stack_name, {})
