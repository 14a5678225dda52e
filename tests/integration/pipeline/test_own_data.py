"""A user's own house-price data end to end (issue #12): `make schema` on their CSV, `make up
REFERENCE=… SCHEMA=…`, then the API, the registry, the drift check and the lineage gate follow the
schema. The data is a synthetic county sales table (tests/benchmarks/realestate.py): dollar prices,
text neighbourhoods and property types, integer codes, zip codes, an id and a sale date."""

from __future__ import annotations

import json
import subprocess

import pytest
import requests

from selfheal import datagen, lineage
from selfheal.schema import CALIFORNIA_HOUSING, dump_schema_file
from tests.benchmarks import realestate
from tests.integration.conftest import ROOT, start_cloud, stop_cloud, wait_for
from tests.integration.story import MODEL, Story

pytestmark = pytest.mark.integration
PY = f"{ROOT}/.venv/bin/python"


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("own-data")
    sales = realestate.generate(6000, seed=3)
    csv = tmp / "county sales (2015).csv"
    sales.to_csv(csv, index=False)
    schema_file = tmp / "sales.schema.json"
    inferred = subprocess.run([PY, "scripts/schema.py", "infer", "--target", "price", "--out", str(schema_file),
                               "--", str(csv)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert inferred.returncode == 0, inferred.stderr
    cloud = start_cloud(tmp, ROOT / "template.yaml", stack_name="owndata",
                        extra=["--after", f"{PY} {ROOT}/scripts/ops.py bootstrap"],
                        env={"REFERENCE": str(csv), "SCHEMA": str(schema_file)})
    s = Story(cloud)
    try:
        wait_for(lambda: s.alias() == "v0001", timeout=300, message="bootstrap on the user's data to promote v0001")
        yield s, sales, json.loads(schema_file.read_text())
    finally:
        stop_cloud(cloud)


def ops(story: Story, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "scripts/ops.py", "--endpoints", str(story.cloud.state_dir / "endpoints.json"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_the_version_carries_the_users_schema_and_reports_dollars(own):
    story, _, schema_file = own
    manifest = json.loads(story.s3.get_object(Bucket=story.model_bucket,
                                              Key=f"models/{MODEL}/v0001/manifest.json")["Body"].read())
    assert manifest[lineage.MANIFEST_KEY]["target"]["name"] == "price"
    assert manifest[lineage.MANIFEST_KEY] == schema_file  # stored as the user's file says
    info = requests.get(f"{story.cloud.api_url}/model", timeout=30).json()
    assert (info["target"], info["unit"]) == ("price", "USD")
    assert info["metrics"]["rmse"] > 1000  # in dollars, not in $100k
    models = ops(story, "models")
    assert models.returncode == 0 and "USD" in models.stdout, models.stdout


def test_the_api_takes_the_users_columns_and_scores_an_unknown_level_as_other(own):
    story, sales, _ = own
    doc = requests.get(f"{story.cloud.api_url}/openapi.json", timeout=30).json()
    props = doc["components"]["schemas"]["HouseRecord"]["properties"]
    assert {"neighbourhood", "property_type", "grade", "sqft_living"} <= set(props)
    assert "MedInc" not in props
    # A row of the user's table without its price; its id and date are accepted and ignored.
    row = json.loads(sales.drop(columns=["price"]).head(1).to_json(orient="records"))[0]
    r = story.predict(row)
    assert r.status_code == 200, r.text
    assert 10_000 < r.json()["prediction"] < 20_000_000
    unknown = story.predict({**row, "neighbourhood": "Atlantis"})
    assert unknown.status_code == 200, unknown.text
    bad = story.predict({**row, "bedrooms": "many"})
    assert bad.status_code == 422 and "bedrooms" in json.dumps(bad.json()["detail"])


def test_an_upload_with_a_new_level_is_checked_for_drift_not_rejected(own):
    story, _, _ = own
    batch = realestate.generate(1500, seed=4)
    batch.loc[batch.index[:30], "neighbourhood"] = "Atlantis"
    key = story.upload("new level.csv", batch)
    wait_for(lambda: [a for a in story.audit() if (a.get("details") or {}).get("key") == key
                      and a["action"] in ("no_drift", "drift_detected")], timeout=180,
             message="the drift check of the upload")
    assert not [a for a in story.audit("quarantined") if (a.get("details") or {}).get("key") == key]


def test_a_challenger_with_another_schema_is_refused_and_the_audit_says_why(own, tmp_path):
    story, _, _ = own
    # California housing, with its own schema file, against production's county sales.
    csv, schema_file = tmp_path / "california.csv", tmp_path / "california.schema.json"
    csv.write_bytes(datagen.to_csv_bytes(datagen.generate(3000, seed=5)))
    schema_file.write_text(dump_schema_file(CALIFORNIA_HOUSING))
    out = ops(story, "bootstrap", "--force", "--reference", str(csv), "--schema", str(schema_file))
    assert out.returncode != 0 and "Validate rejected it" in out.stderr and "AllowSchemaChange=true" in out.stderr
    assert story.alias() == "v0001"
    (rejected,) = [a for a in story.audit("rejected") if a["details"].get("version") == "v0002"]
    assert "AllowSchemaChange" in rejected["reason"] and "columns added" in rejected["reason"]
