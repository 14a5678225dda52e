"""The prediction API: FastAPI over onnxruntime, run behind Mangum in PredictFunction.

No scikit-learn or pandas here, so the predict Lambda stays small and its cold start short. The ONNX
session is cached across warm invocations; the ``production`` alias is re-checked with a cheap
HeadObject at most every ``ALIAS_CHECK_SECONDS``, so a promotion or rollback reaches serving within
seconds. Every answered prediction gets a ``prediction_id`` and is captured (``selfheal/capture.py``:
buffered, written to S3 by the requests that make a flush due, before their invocation ends).
"""

# No `from __future__ import annotations`: FastAPI resolves the route signatures built inside create_app.

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Body, FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, create_model
from pydantic.json_schema import JsonDict

from selfheal import lineage
from selfheal.capture import HEALTH_CHECK_HEADER, CaptureBuffer, Captured, new_ids
from selfheal.config import Settings
from selfheal.exceptions import ModelLoadError, ModelNotFoundError
from selfheal.inference import OnnxModel
from selfheal.registry import ModelRegistry
from selfheal.schema import DEFAULT_SCHEMA, Schema
from selfheal.telemetry import Telemetry

logger = logging.getLogger(__name__)
VERSION_HEADER = "X-Model-Version"
PREDICTION_ID_HEADER = "X-Prediction-Id"


class ModelUnavailableError(Exception):
    """No loadable production model (serving answers 503, never a wrong prediction)."""


@dataclass(frozen=True)
class LoadedModel:
    version: str
    model: OnnxModel
    metrics: dict[str, Any]
    promoted_at: str | None
    loaded_at: float
    schema: Schema = DEFAULT_SCHEMA  # the version's own (selfheal.lineage): requests and units follow it


class ModelProvider:
    """The current production model, reloaded only when the alias object changes.

    ``schema`` is the configured one: a version that stored no schema of its own is read with it."""

    def __init__(self, registry: ModelRegistry, schema: Schema, *, check_seconds: float = 1.0,
                 clock: Callable[[], float] = time.monotonic):
        self._registry = registry
        self.fallback_schema = schema
        self._check_seconds = check_seconds
        self._clock = clock
        self._loaded: LoadedModel | None = None
        self._etag: str | None = None
        self._checked = float("-inf")

    @property
    def cached(self) -> LoadedModel | None:
        return self._loaded

    def current(self) -> LoadedModel:
        now = self._clock()
        if self._loaded is not None and now - self._checked < self._check_seconds:
            return self._loaded
        self._checked = now
        etag = self._registry.alias_etag()
        if self._loaded is not None and etag is not None and etag == self._etag:
            return self._loaded
        alias = self._registry.production()
        if alias is None:
            raise ModelUnavailableError("no production model has been promoted yet")
        version = alias["version"]
        if self._loaded is not None and self._loaded.version == version:
            self._etag = etag
            return self._loaded
        try:
            record = self._registry.get_version(version)
            schema = lineage.schema_of(record["manifest"], self.fallback_schema)
            model = OnnxModel.from_bytes(self._registry.load_model_bytes(version), schema)
            metrics = record["metrics"]
        except (ModelLoadError, ModelNotFoundError) as err:
            if self._loaded is not None:
                # Keep answering with the last good model; the recover function repairs the alias.
                logger.error("production %s cannot be loaded (%s); still serving %s", version, err, self._loaded.version)
                return self._loaded
            raise ModelUnavailableError(f"production model {version} cannot be loaded: {err}") from err
        self._loaded = LoadedModel(version, model, metrics, alias.get("updated_at"), time.time(), schema)
        self._etag = etag
        logger.info("serving model %s", version)
        return self._loaded


def record_model(schema: Schema) -> type[BaseModel]:
    """The request record, built from the schema: finite numbers within bounds (whole numbers for
    integer columns), a categorical's levels (any other string too, when the column folds unknown
    levels into ``other``: documented as ``anyOf`` the levels or a string), the id and date columns
    accepted and ignored, no other fields."""
    fields: dict[str, Any] = {}
    for f in schema.numeric:
        number: Any = int if f.kind == "integer" else float
        fields[f.name] = (Annotated[number, Field(strict=True, ge=f.minimum, le=f.maximum, allow_inf_nan=False,
                                                  description=f.description, examples=[f.example_value])], ...)
    for c in schema.categorical:
        # The levels, and the other spellings levels.LevelMap reads as a level: a number for a
        # numeric code (zip 98103 is "98103"), true/false for a boolean.
        levels: Any = Literal[c.categories]  # type: ignore[valid-type]
        if c.folds:
            described = f"{c.description} (a value outside the levels is scored as {c.other!r})".strip()
            fields[c.name] = (levels | str | int | float, Field(description=described))
        elif c.kind == "boolean":
            fields[c.name] = (levels | bool | int, Field(description=c.description))
        else:
            fields[c.name] = (levels | int | float, Field(description=c.description))
    for x in schema.excluded:
        fields[x.name] = (Any, Field(None, description=f"{x.kind} column: accepted, not a feature, ignored"))
    example: JsonDict = dict(schema.example_record())  # a copy typed as the JSON value the schema holds
    return create_model("HouseRecord", __config__=ConfigDict(extra="forbid", json_schema_extra={
        "examples": [example]}), **fields)


PredictionId = Annotated[str, Field(json_schema_extra={"format": "uuid"})]  # a str: no UUID parsing per row


class SinglePrediction(BaseModel):
    model_version: str
    prediction: float = Field(description="the predicted target, in the model's unit (GET /model: target, unit)")
    prediction_id: PredictionId = Field(description="names this prediction in the capture records (also the "
                                                    f"{PREDICTION_ID_HEADER} header)")


class BatchPrediction(BaseModel):
    model_version: str
    count: int
    predictions: list[float]
    prediction_ids: list[PredictionId] = Field(description="one per record, in request order")


class Health(BaseModel):
    status: Literal["ok"]
    model_version: str


class ModelInfo(BaseModel):
    model_version: str
    metrics: dict[str, float]
    promoted_at: str | None
    loaded_at: float
    schema_name: str
    target: str = Field(description="the column predictions are for")
    unit: str = Field(description="the unit of predictions and of the rmse and mae metrics")


class ErrorBody(BaseModel):
    detail: Any
    model_version: str | None = None


def create_app(settings: Settings, provider: ModelProvider, *, telemetry: Telemetry | None = None,
               capture: CaptureBuffer | None = None, schema: Schema | None = None) -> FastAPI:
    """The app for one schema (default: the configured one); without ``capture`` predictions still
    get ids but nothing is recorded. ``LineageApp`` picks the app for production's schema."""
    schema = schema or settings.schema
    excluded = set(schema.excluded_names)
    same_lineage = _SameSchema(schema)
    metrics = telemetry or Telemetry()
    captures = capture if capture is not None else CaptureBuffer(None, "", sampling_rate=0.0, telemetry=metrics)
    Record = record_model(schema)
    Batch = create_model("PredictBatch", __config__=ConfigDict(extra="forbid"),
                         records=(list[Record], Field(min_length=1, max_length=settings.max_batch_rows)))  # type: ignore[valid-type]

    def _kind(value: Any) -> str:
        return "batch" if isinstance(value, dict) and "records" in value else "single"

    PredictBody = Annotated[
        Annotated[Record, Tag("single")] | Annotated[Batch, Tag("batch")],  # type: ignore[valid-type]
        Discriminator(_kind),
    ]

    # The model is fetched inside each route, after validation: bad input is a 422 even when no model
    # can be loaded.
    router = APIRouter()
    errors: dict[int | str, dict[str, Any]] = {503: {"model": ErrorBody, "description": "no loadable model"}}
    answered: dict[int | str, dict[str, Any]] = {200: {"headers": {PREDICTION_ID_HEADER: {
        "description": "the prediction_id of a single-record answer", "schema": {"type": "string"}}}}}

    @router.post("/predict", response_model=SinglePrediction | BatchPrediction, responses={**answered, **errors})
    async def predict(body: Annotated[PredictBody, Body()], request: Request, response: Response,
                      background: BackgroundTasks) -> SinglePrediction | BatchPrediction:
        """Predict one record, or a batch as ``{"records": [...]}``."""
        start = time.perf_counter()
        loaded = provider.current()
        if not same_lineage(loaded.schema):  # production moved to another schema since routing: rare
            raise ModelUnavailableError(f"production {loaded.version} has another schema; retry the request")
        batch = isinstance(body, Batch)
        records = body.records if batch else [body]  # type: ignore[union-attr]
        rows = [r.model_dump(exclude=excluded) for r in records]
        scored = loaded.model.score_records(rows)  # a value outside a column's levels scores as its 'other'
        preds = scored.tolist()
        for column, count in scored.unknown_levels.items():
            metrics.unknown_levels(model_version=loaded.version, column=column, count=count)
        done = time.perf_counter()
        received = getattr(request.state, "received", start)  # set by the middleware, before validation
        if _health_check(request):
            # RecoverFunction's fixed record (health check, smoke test) is not traffic: never monitored.
            captured = Captured(new_ids(len(preds)), 0, False)
        else:
            captured = captures.capture(loaded.version, rows, preds, latency_ms=(done - received) * 1000)
        metrics.prediction(model_version=loaded.version, rows=len(preds), latency_ms=(done - start) * 1000,
                           captured=captured.recorded if captures.enabled else None)
        if captured.flush_due:
            # Runs after the body is ready and before Mangum's handler returns: inside this invocation.
            background.add_task(captures.flush)
        if batch:
            return BatchPrediction(model_version=loaded.version, count=len(preds), predictions=preds,
                                   prediction_ids=captured.ids)
        response.headers[PREDICTION_ID_HEADER] = captured.ids[0]
        return SinglePrediction(model_version=loaded.version, prediction=preds[0], prediction_id=captured.ids[0])

    @router.get("/health", response_model=Health, responses=errors)
    async def health() -> Health:
        loaded = provider.current()
        return Health(status="ok", model_version=loaded.version)

    @router.get("/model", response_model=ModelInfo, responses=errors)
    async def model_info() -> ModelInfo:
        loaded = provider.current()
        metrics = {k: float(v) for k, v in loaded.metrics.items() if isinstance(v, int | float)}
        return ModelInfo(model_version=loaded.version, metrics=metrics, promoted_at=loaded.promoted_at,
                         loaded_at=loaded.loaded_at, schema_name=loaded.schema.name,
                         target=loaded.schema.target.name, unit=loaded.schema.target.unit)

    target = schema.target
    unit = f"in {target.unit}" if target.unit else "in the data's own units"
    app = FastAPI(title="House price prediction", version="1.0",
                  description=f"Self-healing house-price model served from ONNX ({schema.name}). Predictions "
                              f"are {target.name}, {unit}.")
    app.include_router(router)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default handler echoes each error's input: the 422 for a batch over the record limit
        # carried the whole batch back. Only small inputs are echoed (loc, msg and type always are), and
        # non-finite numbers as strings, since NaN or Infinity would make the 422 itself fail (a 500).
        errors = [{k: v for k, v in err.items() if k != "input" or _small(v)} for err in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": _finite(jsonable_encoder(errors))})

    @app.exception_handler(ModelUnavailableError)
    async def unavailable(request: Request, exc: ModelUnavailableError) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(exc), "model_version": None})

    @app.middleware("http")
    async def version_header(request: Request, call_next: Any) -> Any:
        request.state.received = time.perf_counter()  # a capture record's latency counts validation too
        response = await call_next(request)
        cached = provider.cached
        if cached is not None:
            response.headers[VERSION_HEADER] = cached.version
        return response

    return app


class _SameSchema:
    """Whether a loaded version's schema is this app's: by identity first, then by fingerprint, once
    per schema object (a version's schema object lives as long as it is loaded)."""

    def __init__(self, schema: Schema) -> None:
        self._fingerprint = lineage.fingerprint(schema)
        self._seen: dict[int, bool] = {id(schema): True}

    def __call__(self, schema: Schema) -> bool:
        known = self._seen.get(id(schema))
        if known is None:
            known = self._seen[id(schema)] = lineage.fingerprint(schema) == self._fingerprint
        return known


class LineageApp:
    """What PredictFunction serves: the app of production's schema (``selfheal.lineage``), built
    once per schema, so the request model, the OpenAPI document and ``/docs`` follow the production
    version's columns, also after a promotion starts a new lineage."""

    def __init__(self, provider: ModelProvider, build: Callable[[Schema], FastAPI]) -> None:
        self._provider = provider
        self._build = build
        self._apps: dict[str, FastAPI] = {}
        self._by_id: dict[int, FastAPI] = {}

    def app_for(self, schema: Schema) -> FastAPI:
        app = self._by_id.get(id(schema))
        if app is None:
            key = lineage.fingerprint(schema)
            app = self._apps.get(key) or self._apps.setdefault(key, self._build(schema))
            self._by_id[id(schema)] = app
        return app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            schema = self._provider.current().schema
        except ModelUnavailableError:
            schema = self._provider.fallback_schema  # its app answers 503 itself
        await self.app_for(schema)(scope, receive, send)


def _health_check(request: Request) -> bool:
    """RecoverFunction's request: the header, on a direct Invoke. Events from API Gateway carry an
    ``apiId``, so a client of the HTTP API cannot keep its traffic out of the capture."""
    if not request.headers.get(HEALTH_CHECK_HEADER):
        return False
    event = request.scope.get("aws.event") or {}
    return not (event.get("requestContext") or {}).get("apiId")


MAX_ECHOED_INPUT = 1024  # about this many characters of JSON: a record is echoed in a 422, a batch is not


def _small(value: Any, budget: int = MAX_ECHOED_INPUT) -> bool:
    """Whether ``value`` as JSON is at most about ``budget`` characters, found without encoding it."""
    pending = [value]
    while pending:  # each step spends at least one unit of the budget, so a large value stops early
        item = pending.pop()
        if isinstance(item, dict | list | tuple):
            budget -= 2 + 2 * len(item)  # brackets and separators; keys and values are counted as items
            if budget >= 0:
                pending.extend([*item.keys(), *item.values()] if isinstance(item, dict) else item)
        else:
            budget -= len(item) + 2 if isinstance(item, str) else len(str(item))
        if budget < 0:
            return False
    return True


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def app_from_env() -> LineageApp:
    """The app as PredictFunction and ``make serve`` build it, from the environment."""
    from selfheal.context import make_client

    settings = Settings.from_env()
    registry = ModelRegistry(make_client("s3"), settings.model_bucket, settings.model_name)
    telemetry = Telemetry()
    capture = CaptureBuffer(_capture_client(), settings.data_bucket, max_records=settings.capture_max_records,
                            max_age_seconds=settings.capture_max_age_seconds,
                            sampling_rate=settings.capture_sampling_rate, telemetry=telemetry)
    provider = ModelProvider(registry, settings.schema, check_seconds=settings.alias_check_seconds)
    return LineageApp(provider, lambda schema: create_app(settings, provider, telemetry=telemetry, capture=capture,
                                                          schema=schema))


def _capture_client() -> Any:
    """S3 for capture flushes: short timeouts and one retry, so an unreachable S3 costs a request
    seconds, never the function's timeout (a flush must not fail the prediction it runs in)."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", config=Config(connect_timeout=2, read_timeout=5,
                                            retries={"mode": "standard", "max_attempts": 2}))
