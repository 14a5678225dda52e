"""What the runtime needs to know about one function, independent of where it was configured."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import threading
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class FunctionSpec:
    """One function's configuration, as the Lambda service would hand it to an execution environment."""

    name: str
    arn: str
    handler: str
    runtime: str
    timeout: float  # seconds, the function's Timeout
    memory_mb: int  # MemorySize; enforced as a resident-memory limit
    environment: Mapping[str, str]
    code_dir: Path  # extracted deployment package: LAMBDA_TASK_ROOT
    layer_dirs: tuple[Path, ...] = ()  # each extracted layer: what AWS mounts at /opt
    reserved_concurrency: int | None = None
    version: str = "$LATEST"
    # Changes whenever code or configuration changes; a new value recycles warm workers, as on AWS.
    fingerprint: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"


def fingerprint_of(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class CodeStore:
    """Extracts deployment packages and layers once per content hash (like Lambda's code cache)."""

    def __init__(self, root: Path):
        # Absolute: workers run with the function's folder as cwd, so relative paths would break.
        self.root = root.resolve()
        self._lock = threading.Lock()

    def extract(self, kind: str, name: str, data: bytes) -> Path:
        digest = hashlib.sha256(data).hexdigest()[:16]
        target = self.root / kind / f"{_safe(name)}-{digest}"
        with self._lock:
            if target.is_dir():
                return target
            tmp = target.with_name(target.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                for member in zf.infolist():
                    dest = (tmp / member.filename).resolve()
                    # A zip entry may not escape its folder ("zip slip").
                    if not dest.is_relative_to(tmp.resolve()):
                        raise ValueError(f"zip entry escapes the package: {member.filename}")
                zf.extractall(tmp)
            tmp.rename(target)
            return target


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:80]
