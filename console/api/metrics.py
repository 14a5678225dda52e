"""``GET /metrics``: the pipeline's CloudWatch metrics in Prometheus' text format, for scraping."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from console.api.deps import ConsoleState, StateDep
from console.metrics import read_series, registry

router = APIRouter(tags=["metrics"])


def collect(state: ConsoleState) -> CollectorRegistry:
    """A registry of every metric in the console's namespace, read from CloudWatch now."""
    series = read_series(state.cloud.client("cloudwatch"), state.metrics_namespace, mapper=state.pool.map)
    return registry(series, state.metrics_namespace)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, state: StateDep) -> Response:
    """Read-only, like the other pages: no token. OpenMetrics when the scraper asks for it."""
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(collect(state)), headers={"Content-Type": content_type, "Cache-Control": "no-store"})
