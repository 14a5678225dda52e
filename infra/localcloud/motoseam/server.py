"""The WSGI application that serves moto's AWS APIs, and the request handler it expects.

Imported by apiserver.py at import time: its keep-alive handler subclasses `RequestHandler`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

#: werkzeug's request handler as moto needs it: it keeps the original spelling of headers with an
#: underscore (S3 user metadata), which werkzeug alone drops. Guarded by
#: tests/unit/test_moto_seam.py::test_moto_serves_its_apis_as_one_wsgi_app.
RequestHandler = MotoRequestHandler


def wsgi_app() -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """Every AWS API moto implements, dispatched by host and request, as one WSGI application.

    What ``moto.server.ThreadedMotoServer`` serves. Guarded by
    tests/unit/test_moto_seam.py::test_moto_serves_its_apis_as_one_wsgi_app.
    """
    app: Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]] = DomainDispatcherApplication(
        create_backend_app)
    return app
