"""`make serve`: the prediction app under uvicorn, for development, against the running local cloud.

The same FastAPI app PredictFunction runs behind Mangum; settings come from the stack's outputs.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "selfheal" / "python"))


def main() -> int:
    endpoints = Path(os.environ.get("LOCALCLOUD_ENDPOINTS", ROOT / ".localcloud" / "endpoints.json"))
    if not endpoints.exists():
        raise SystemExit("no running local cloud: start it with `make up` first")
    info = json.loads(endpoints.read_text())
    out = info["stack"]["outputs"]
    os.environ.update(AWS_ENDPOINT_URL=info["endpoint_url"], AWS_DEFAULT_REGION=info["region"],
                      AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", DATA_BUCKET=out["DataBucketName"],
                      MODEL_BUCKET=out["ModelBucketName"], STATE_TABLE=out["StateTableName"])
    import uvicorn

    from selfheal.serving import app_from_env

    port = int(os.environ.get("SERVE_PORT", "8000"))
    print(f"serving on http://127.0.0.1:{port} (docs at /docs)")
    uvicorn.run(app_from_env(), host="127.0.0.1", port=port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
