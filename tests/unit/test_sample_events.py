"""`make events` regenerates the committed sample events byte for byte (git sees no change)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from infra.localcloud import events

ROOT = Path(__file__).resolve().parents[2]


def test_generated_events_are_deterministic():
    for kind in events.KINDS:
        assert events.generate(kind, method="POST", path="/predict", body="{}") == events.generate(
            kind, method="POST", path="/predict", body="{}")


def test_make_events_leaves_the_committed_files_unchanged():
    folder = ROOT / "events"
    before = {p.name: p.read_bytes() for p in folder.glob("*.json")}
    subprocess.run(["make", "-s", "events"], cwd=ROOT, check=True, capture_output=True, timeout=120)
    after = {p.name: p.read_bytes() for p in folder.glob("*.json")}
    assert after == before
