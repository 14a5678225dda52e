"""The servers the benchmarks compare against, each run as its own uvicorn process.

    python tests/benchmarks/apps.py sklearn  --model PIPELINE.pkl --port P   the baseline (+ /noop floor)
    python tests/benchmarks/apps.py selfheal --port P                        our FastAPI app, no Lambda hop

``sklearn`` is the seed project's design: FastAPI under uvicorn in one process, a pydantic record,
a pandas DataFrame and a scikit-learn Pipeline's ``.predict``, in a plain ``def`` route as the
FastAPI docs recommend for blocking work. It takes the same request bodies as ``POST /predict`` on
the HTTP API (one record, or ``{"records": [...]}``), so the load generator sends identical bytes.
``POST /noop`` is the floor: FastAPI and uvicorn doing nothing but answering.

``selfheal`` is ``selfheal.serving.create_app`` (what PredictFunction runs behind Mangum) served
directly by uvicorn, reading the model from the local cloud's S3 through the usual environment
(``AWS_ENDPOINT_URL``, ``MODEL_BUCKET`` ...): it separates the cost of the Lambda hop from the app.
"""

# No `from __future__ import annotations`: FastAPI must resolve the route signatures built inside sklearn_app.

import argparse
import pickle
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "layers" / "selfheal" / "python"))


def sklearn_app(model_path: Path):
    from typing import Annotated

    import pandas as pd
    from fastapi import Body, FastAPI
    from pydantic import BaseModel

    with open(model_path, "rb") as f:
        pipeline = pickle.load(f)  # noqa: S301 - a file this benchmark just wrote

    class House(BaseModel):
        MedInc: float
        HouseAge: float
        AveRooms: float
        AveBedrms: float
        Population: float
        AveOccup: float
        Latitude: float
        Longitude: float

    class Batch(BaseModel):
        records: list[House]

    app = FastAPI(title="seed-project baseline")

    @app.post("/predict")
    def predict(body: Annotated[House | Batch, Body()]) -> dict:
        if isinstance(body, Batch):
            frame = pd.DataFrame([r.model_dump() for r in body.records])
            preds = pipeline.predict(frame)
            return {"model_version": "sklearn", "count": len(preds), "predictions": preds.tolist()}
        frame = pd.DataFrame([body.model_dump()])
        return {"model_version": "sklearn", "prediction": float(pipeline.predict(frame)[0])}

    @app.post("/noop")
    async def noop() -> dict:
        return {"ok": True}

    return app


def selfheal_app():
    from selfheal.serving import app_from_env

    return app_from_env()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["sklearn", "selfheal"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--model", type=Path)
    args = p.parse_args()
    import uvicorn

    app = sklearn_app(args.model) if args.mode == "sklearn" else selfheal_app()
    # uvicorn's defaults (uvloop and httptools when installed, as they are here), one process,
    # no access log: what `uvicorn app:app` gives a user, minus per-request terminal output.
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
