"""PredictFunction: the FastAPI prediction app behind Mangum (HTTP API payload format 2.0)."""

from mangum import Mangum

from selfheal.serving import app_from_env

app = app_from_env()  # cold start: settings checked, clients built once
handler = Mangum(app, lifespan="off")
