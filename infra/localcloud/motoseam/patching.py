"""How the seam replaces a moto attribute: marked by its installer, so installing twice patches once.

Each installer has its own mark (the persistence hooks and the status-change hooks both wrap
``BaseExecutionWorkerCommunication.terminated``; one must not mistake the other's wrapper for its
own). `functools.wraps` copies a wrapped function's marks onto its wrapper, which is what an
installer wants: a method wrapped again after it was patched still counts as patched.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def is_patched(value: object, mark: str) -> bool:
    """Whether `value` (a class attribute, a module function) carries the installer's `mark`."""
    return bool(getattr(value, mark, False))


def replace(owner: object, name: str, replacement: Callable[..., Any], *, mark: str) -> None:
    """Set `owner.name` (a class's method, a module's function) to `replacement`, marked with `mark`."""
    setattr(replacement, mark, True)
    setattr(owner, name, replacement)


def wrap_after(cls: type, name: str, on_result: Callable[[T, Any, Any, dict[str, Any]], None], *, mark: str,
               context: Callable[[], T | None]) -> None:
    """Wrap `cls.name`: after it returns, `on_result(context(), self, result, arguments)`.

    The hook runs only when `context()` is not None, and only then are the arguments bound, by name,
    to the original's signature with defaults applied (a hook reads them whichever way the caller
    passed them).
    """
    original = getattr(cls, name)
    signature = inspect.signature(original)

    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        value = context()
        if value is not None:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            on_result(value, self, result, bound.arguments)
        return result

    replace(cls, name, wrapper, mark=mark)
