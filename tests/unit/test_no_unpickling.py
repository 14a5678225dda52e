"""Nothing the product reads is ever unpickled: models are ONNX, configuration and data JSON or CSV."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["layers", "functions", "infra", "console", "scripts", "state_machines"]
# Deserialisers that execute code from the bytes they read.
FORBIDDEN = re.compile(
    r"\b(pickle|cPickle|dill|cloudpickle|joblib|shelve|marshal)\b\s*\.\s*(load|loads|Unpickler)\b"
    r"|\bread_pickle\b|allow_pickle\s*=\s*True"
    r"|\byaml\.(unsafe_load|full_load)\b|Loader\s*=\s*(yaml\.)?(Unsafe|Full)?Loader\b|\byaml\.load\((?![^)]*Loader=)"
    r"|\bimport (pickle|dill|cloudpickle|joblib|shelve|marshal)\b|\bfrom (pickle|dill|cloudpickle|joblib) import")


def test_no_source_file_can_unpickle() -> None:
    offenders = []
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if FORBIDDEN.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_pattern_catches_what_it_must() -> None:
    for line in ("pickle.loads(body)", "joblib.load(path)", "pd.read_pickle(f)", "np.load(f, allow_pickle=True)",
                 "import dill", "from joblib import load", "yaml.load(text)"):
        assert FORBIDDEN.search(line), line
    for line in ("json.loads(body)", "onnx.load_model_from_string(b)", "yaml.load(t, Loader=yaml.SafeLoader)",
                 "yaml.load(text, Loader=CfnYamlLoader)"):
        assert not FORBIDDEN.search(line), line
    assert FORBIDDEN.search("yaml.load(t, Loader=yaml.Loader)") and FORBIDDEN.search("yaml.unsafe_load(t)")


def test_the_template_loader_is_a_safe_loader() -> None:
    import yaml

    from infra.localcloud.deploy.template import CfnYamlLoader

    assert issubclass(CfnYamlLoader, yaml.SafeLoader)
