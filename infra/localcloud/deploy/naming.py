"""Physical names for resources the template leaves unnamed, the way CloudFormation makes them."""

from __future__ import annotations

import hashlib
import re

SUFFIX_LENGTH = 12
_STACK_NAME = re.compile(r"^[A-Za-z][-A-Za-z0-9]{0,127}$")


def is_valid_stack_name(name: str) -> bool:
    """CloudFormation stack names: a letter, then letters, digits and hyphens, at most 128 chars."""
    return bool(_STACK_NAME.match(name))


def name_suffix(stack_name: str, logical_id: str) -> str:
    """Deterministic stand-in for CloudFormation's random suffix, so a redeploy finds the same name."""
    digest = hashlib.sha256(f"{stack_name}/{logical_id}".encode()).hexdigest()
    return digest[:SUFFIX_LENGTH].upper()


def physical_name(
    stack_name: str, logical_id: str, *, max_length: int, lowercase: bool = False, suffix: str = ""
) -> str:
    """`<stack>-<LogicalId>-<SUFFIX>`, trimmed to `max_length` like CloudFormation trims it.

    CloudFormation shortens the stack and logical-id parts, never the unique suffix;
    `suffix` is appended after it for names with a mandatory ending (SQS `.fifo`).
    """
    unique = name_suffix(stack_name, logical_id)
    budget = max_length - len(unique) - len(suffix) - 2
    if budget < 2:
        raise ValueError(f"max_length {max_length} leaves no room for a name")
    stack_part, logical_part = stack_name, logical_id
    if len(stack_part) + len(logical_part) > budget:
        # Keep as much of the logical id as possible: it is what a reader looks for.
        stack_part = stack_part[: max(1, budget - len(logical_part))]
        logical_part = logical_part[: budget - len(stack_part)]
    name = f"{stack_part}-{logical_part}-{unique}{suffix}"
    if lowercase:
        name = re.sub(r"[^a-z0-9.-]", "-", name.lower())
    return name
