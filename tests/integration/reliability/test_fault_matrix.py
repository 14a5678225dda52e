"""The fault matrix: every fault runs through the state machine on the local cloud, and production
stays consistent — the alias names a valid, loadable model, the lock is released, and the audit
says what happened.

Faults are configuration, never test-only code paths: function settings a user could change
(Timeout, MemorySize) and the local cloud's fault-injection API (/_localcloud/faults), which makes
the platform misbehave around unchanged functions. The last test kills the cloud itself mid-run.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import uuid
from collections.abc import Iterator

import pytest
import requests

from selfheal import datagen
from selfheal.inference import OnnxModel
from selfheal.locks import RetrainingLock
from selfheal.schema import CALIFORNIA_HOUSING as SCHEMA
from tests.integration.conftest import ROOT, start_cloud, stop_cloud, wait_for
from tests.integration.story import MODEL, Story

pytestmark = pytest.mark.integration

BOOTSTRAP = f"{ROOT}/.venv/bin/python {ROOT}/scripts/ops.py bootstrap"
# The scheduled health check is off (its schedule is a day): the tests run recovery themselves, and a
# scheduled check (every 10 s at this speed-up) would repair serving in the middle of the faults they inject.
CLOUD_ARGS = ["--parameter-overrides", "CooldownHours=0 RecoverSchedule='rate(1 day)'", "--schedule-speedup", "30",
              "--after", BOOTSTRAP]
LOCK_KEY = {"pk": {"S": "LOCK#retraining"}, "sk": {"S": "LOCK"}}


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    cloud = start_cloud(tmp, ROOT / "template.yaml", stack_name="selfheal", extra=CLOUD_ARGS,
                        env={"BOOTSTRAP_ROWS": "12000"})
    s = Story(cloud)
    s.tmp = tmp
    try:
        wait_for(lambda: s.alias() == "v0001", timeout=300, message="bootstrap to promote v0001")
        yield s
    finally:
        stop_cloud(s.cloud)


@pytest.fixture(autouse=True)
def no_faults_left(story):
    yield
    requests.delete(f"{story.cloud.endpoint_url}/_localcloud/faults", timeout=10).raise_for_status()


def inject(story: Story, **rule) -> dict:
    r = requests.post(f"{story.cloud.endpoint_url}/_localcloud/faults", json=rule, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["fault"]


def start_retraining(story: Story, label: str, seed: int) -> str:
    """What DriftFunction does on drift: take the lock in the execution's name, then start it."""
    key = story.upload(f"{label}.csv", datagen.generate(3000, seed=seed, drift=1.0), prefix="faults/")
    name = f"fault-{label}-{uuid.uuid4().hex[:6]}"
    RetrainingLock(story.ddb, story.cloud.output("StateTableName")).acquire(name, 1800)
    payload = {"trigger": "drift", "batches": [{"bucket": story.data_bucket, "key": key}], "include_reference": True,
               "lock_owner": name}
    return story.sfn.start_execution(stateMachineArn=story.sm_arn, name=name, input=json.dumps(payload))["executionArn"]


def finished(story: Story, arn: str, timeout: float = 240) -> dict:
    return wait_for(lambda: (d := story.sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
                    timeout=timeout, message="the execution to finish")


def history(story: Story, arn: str) -> list[dict]:
    return story.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]


def assert_consistent(story: Story, arn: str | None = None) -> dict | None:
    """The alias names a loadable model that is served; the lock is free; the execution is audited."""
    version = story.alias()
    body = story.s3.get_object(Bucket=story.model_bucket, Key=f"models/{MODEL}/{version}/model.onnx")["Body"].read()
    OnnxModel.from_bytes(body, SCHEMA)  # raises if the production artifact does not load
    wait_for(lambda: story.predict().json().get("model_version") == version, timeout=15,
             message=f"POST /predict served by {version}")
    lock = story.ddb.get_item(TableName=story.cloud.output("StateTableName"), Key=LOCK_KEY, ConsistentRead=True)
    assert "Item" not in lock, f"the retraining lock is still held: {lock.get('Item')}"
    if arn is None:
        return None
    (item,) = story.audit("execution_finished", arn)
    return item


@contextlib.contextmanager
def configured(story: Story, logical_id: str, **config) -> Iterator[None]:
    """A function's configuration changed (as an operator would) for the block, then put back."""
    name = story.cloud.physical(logical_id)
    current = story.lam.get_function_configuration(FunctionName=name)
    story.lam.update_function_configuration(FunctionName=name, **config)
    try:
        yield
    finally:
        story.lam.update_function_configuration(FunctionName=name, **{k: current[k] for k in config})


def promoting_any_challenger(story: Story) -> contextlib.AbstractContextManager[None]:
    """Validation lenient enough that the challenger is promoted (the tests after these need
    earlier healthy versions to roll back to, whatever the drifted data made of the model)."""
    env = story.lam.get_function_configuration(FunctionName=story.cloud.physical("ValidateFunction"))["Environment"]
    lenient = {"Variables": {**env["Variables"], "CHALLENGER_MARGIN": "1.0", "MIN_R2": "0"}}
    return configured(story, "ValidateFunction", Environment=lenient)


def assert_failed_cleanly(story: Story, desc: dict, error: str, production: str) -> dict:
    """The execution failed with `error`, production did not move, and the audit says so."""
    assert desc["status"] == "FAILED" and desc["error"] == error, desc
    assert story.alias() == production
    audit = assert_consistent(story, desc["executionArn"])
    assert audit["details"]["error"] == error
    return audit


# ---- concurrency ---------------------------------------------------------------------------------
def test_ten_drifted_uploads_run_one_execution_at_a_time_and_drop_no_batch(story):
    known = {e["executionArn"] for e in story.executions()}
    # Drifted and mislabelled: each batch calls for a retraining by drift or by degradation, however
    # far an earlier retraining has moved the reference; the challengers are rejected, so it stays.
    frames = [datagen.poison_labels(datagen.generate(1500, seed=100 + i, drift=1.0), seed=100 + i) for i in range(10)]
    keys = [f"incoming/burst-{i}.csv" for i in range(10)]
    threads = [threading.Thread(target=story.upload, args=(k.split("/", 1)[1], f)) for k, f in zip(keys, frames, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    def used() -> dict[str, list[str]]:
        by_key: dict[str, list[str]] = {}
        for e in story.executions():
            if e["executionArn"] in known:
                continue
            desc = story.sfn.describe_execution(executionArn=e["executionArn"])
            for b in json.loads(desc["input"])["batches"]:
                by_key.setdefault(b["key"], []).append(e["executionArn"])
        return by_key

    def settled():
        new = [e for e in story.executions() if e["executionArn"] not in known]
        pending = story.ddb.query(TableName=story.cloud.output("StateTableName"), KeyConditionExpression="pk = :p",
                                  ExpressionAttributeValues={":p": {"S": "PENDING"}}, ConsistentRead=True)["Items"]
        return (new and not pending and all(e["status"] != "RUNNING" for e in new)
                and set(keys) <= set(used()) and new)

    new = wait_for(settled, timeout=480, interval=1.0, message="every batch used by a finished retraining")
    by_key = used()
    assert all(len(by_key[k]) == 1 for k in keys), {k: by_key[k] for k in keys}
    # One at a time: no two retrainings overlap. Each holds the lock from its start until its Finish
    # step releases it (the execution ends a moment later, so the next may start before that).
    def work(e: dict) -> tuple:
        entered = next(ev["timestamp"] for ev in history(story, e["executionArn"])
                       if ev.get("stateEnteredEventDetails", {}).get("name") in ("Finish", "ReleaseAfterFailure"))
        return e["startDate"], entered

    spans = sorted(work(e) for e in new)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), spans
    assert all(e["status"] == "SUCCEEDED" for e in new), [(e["name"], e["status"]) for e in new]
    # Every batch either started a retraining or was deferred with a reason, and the audit says which.
    started = {b["key"] for a in story.audit("retrain_started") for b in a["details"]["batches"][:1]}
    deferred = {a["details"]["key"] for action in ("retrain_skipped_lock", "retrain_skipped_cooldown")
                for a in story.audit(action)}
    assert set(keys) <= started | deferred, set(keys) - started - deferred
    # The deferred ones went with a later upload's retraining or with the drain's (DriftFunction's
    # schedule, which starts one when nothing else comes): either way no batch was left pending.
    assert_consistent(story)


# ---- faults in the retraining --------------------------------------------------------------------
def test_train_raising_fails_the_execution_with_its_error_and_keeps_production(story):
    before = story.alias()
    inject(story, function="TrainFunction", fault="error", count=1, error_type="InjectedFault",
           message="training blew up (injected)")
    arn = start_retraining(story, "train-raises", seed=201)
    desc = finished(story, arn)
    assert "training blew up" in desc["cause"]
    assert story.path(arn)[-3:] == ["Train", "ReleaseAfterFailure", "Failed"]
    audit = assert_failed_cleanly(story, desc, "InjectedFault", before)
    assert audit["details"]["lock_released"] is True


def test_train_timeout_fails_the_execution_as_sandbox_timedout(story):
    before = story.alias()
    # A warm Train can finish 15k rows inside a second, so the platform also holds the event back
    # (like FIS's add-delay action): the function's real timeout then always ends it.
    with configured(story, "TrainFunction", Timeout=2):
        inject(story, function="TrainFunction", fault="delay", delay_ms=2500, count=1)
        desc = finished(story, start_retraining(story, "train-timeout", seed=202))
    assert_failed_cleanly(story, desc, "Sandbox.Timedout", before)


def test_train_over_its_memory_fails_the_execution_as_out_of_memory(story):
    before = story.alias()
    with configured(story, "TrainFunction", MemorySize=128):
        desc = finished(story, start_retraining(story, "train-oom", seed=203))
    assert_failed_cleanly(story, desc, "Runtime.OutOfMemory", before)


def test_fix_data_crash_is_retried_and_the_execution_heals(story):
    with promoting_any_challenger(story):
        inject(story, function="FixDataFunction", fault="crash", count=1)
        arn = start_retraining(story, "fix-crash", seed=204)
        desc = finished(story, arn)
    assert desc["status"] == "SUCCEEDED", desc
    events = history(story, arn)
    failures = [e for e in events if e["type"] == "LambdaFunctionFailed"]  # FixData invokes its function ARN
    assert failures and failures[0]["lambdaFunctionFailedEventDetails"]["error"] == "Runtime.ExitError"
    assert story.path(arn)[:2] == ["FixData", "Train"] and "Promote" in story.path(arn)
    assert assert_consistent(story, arn)["details"]["outcome"] == "succeeded"


def test_promote_dying_between_writing_and_finishing_is_retried_and_heals(story):
    before = story.alias()
    with promoting_any_challenger(story):  # this challenger must reach Promote
        inject(story, function="PromoteFunction", fault="crash_after_call", method="PUT",
               path_contains="aliases/production.json", count=1)
        arn = start_retraining(story, "promote-dies", seed=205)
        desc = finished(story, arn)
    assert desc["status"] == "SUCCEEDED", desc
    failed = [e for e in history(story, arn) if e["type"] == "LambdaFunctionFailed"]
    assert failed and failed[0]["lambdaFunctionFailedEventDetails"]["error"] == "Runtime.ExitError"
    new = story.alias()
    assert new != before
    (promoted,) = story.audit("promoted", arn)
    assert promoted["details"]["version"] == new and promoted["details"]["previous_version"] == before
    assert promoted["details"]["reference"]["version"] == new  # the retry published the new reference once
    assert_consistent(story, arn)


# ---- faults in production ------------------------------------------------------------------------
def _recover(story: Story) -> dict:
    return story.invoke("RecoverFunction", {"mode": "scheduled"})


def test_deleted_production_model_is_detected_and_rolled_back(story):
    # The two retrainings that healed promoted their versions: two healthy ones precede this one.
    bad = story.alias()
    story.s3.delete_object(Bucket=story.model_bucket, Key=f"models/{MODEL}/{bad}/model.onnx")
    out = _recover(story)
    assert out["healthy"] is True
    wait_for(lambda: story.alias() != bad, timeout=30, message="the alias to move off the deleted model")
    assert any(a["details"].get("from_version") == bad for a in story.audit("rolled_back"))
    assert story.audit("health_failed")
    assert_consistent(story)


def test_corrupted_production_model_is_detected_and_rolled_back(story):
    bad = story.alias()
    story.s3.put_object(Bucket=story.model_bucket, Key=f"models/{MODEL}/{bad}/model.onnx", Body=b"\x00garbage")
    assert _recover(story)["healthy"] is True
    wait_for(lambda: story.alias() != bad, timeout=30, message="the alias to move off the corrupted model")
    assert any(a["details"].get("from_version") == bad for a in story.audit("rolled_back"))
    assert_consistent(story)


def test_predict_worker_killed_mid_request_fails_that_request_only(story):
    version = story.alias()
    assert story.predict().status_code == 200  # a warm worker exists
    inject(story, function="PredictFunction", fault="crash", count=1)
    killed = story.predict()
    assert killed.status_code in (500, 502, 503), killed.text
    assert killed.json().get("message")  # API Gateway's error body, not a hang or a reset connection
    after = [story.predict() for _ in range(20)]
    assert [r.status_code for r in after] == [200] * 20
    assert {r.json()["model_version"] for r in after} == {version}
    logs = story.cloud.client("logs")
    group = f"/aws/lambda/{story.cloud.physical('PredictFunction')}"
    wait_for(lambda: logs.filter_log_events(logGroupName=group, filterPattern="Runtime.ExitError")["events"],
             message="the crash in the function's log")
    assert_consistent(story)


# ---- the healing branches no other test runs ------------------------------------------------------
def alerts(story: Story, kind: str) -> list[dict]:
    return [a for a in story.audit("alert_sent") if a["details"]["kind"] == kind]


def reference_of(story: Story, key: str = "reference/current.csv") -> bytes:
    return story.s3.get_object(Bucket=story.data_bucket, Key=key)["Body"].read()


def test_smoke_test_failing_rolls_back_restores_the_reference_and_alerts(story):
    # Promote moves the alias before it publishes the reference: let the run that promoted it finish.
    wait_for(lambda: all(e["status"] != "RUNNING" for e in story.executions()), timeout=120,
             message="no execution running")
    previous = story.alias()
    assert json.loads(reference_of(story, "reference/current.json"))["version"] == previous
    previous_reference = reference_of(story)  # what drift is measured against while `previous` serves
    predict = story.cloud.physical("PredictFunction")
    with promoting_any_challenger(story):
        # Promote sees its event late, so serving is failing before the smoke test runs however
        # quickly Promote itself answers (without it the test raced the execution and lost on CI).
        inject(story, function="PromoteFunction", fault="delay", delay_ms=5000, count=1)
        arn = start_retraining(story, "smoke", seed=41)
        # Serving fails from here on, so the new version's smoke test cannot pass.
        wait_for(lambda: any(e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == "Promote"
                             for e in history(story, arn)), timeout=240, message="the execution to reach Promote")
        inject(story, function=predict, fault="error", count=1000)
        desc = finished(story, arn)
    requests.delete(f"{story.cloud.endpoint_url}/_localcloud/faults", timeout=10).raise_for_status()
    assert desc["status"] == "FAILED"
    path = story.path(arn)
    assert path[path.index("Promote"):] in (["Promote", "SmokeTest", "Healthy", "Rollback", "ReleaseAfterFailure", "Failed"],
                                           ["Promote", "SmokeTest", "Rollback", "ReleaseAfterFailure", "Failed"]), path
    assert story.alias() == previous
    (rolled,) = story.audit("rolled_back", arn)
    assert rolled["details"].get("to_version") == previous or previous in rolled["reason"]
    # The rollback alert names the versions and links to its decision; the failed execution alerts too.
    (alert,) = [a for a in alerts(story, "rollback") if a.get("execution_arn") == arn]
    assert alert["details"]["about"] == rolled["sk"]
    assert previous in json.dumps(alert["details"]["message"]["versions"])
    wait_for(lambda: [a for a in alerts(story, "execution_failed") if a.get("execution_arn") == arn], timeout=30,
             message="the execution_failed alert (EventBridge status change)")
    # The reference is the one the version rolled back to was trained on.
    assert reference_of(story) == previous_reference
    (restored,) = [a for a in story.audit("reference_restored") if a.get("execution_arn") == arn]
    assert restored["details"]["restored"] is True
    assert json.loads(reference_of(story, "reference/current.json"))["version"] == previous
    assert_consistent(story)


def test_a_labelled_batch_without_drift_but_worse_rmse_starts_a_degradation_retraining(story):
    known = {e["executionArn"] for e in story.executions()}
    batch = datagen.generate(2000, seed=43)  # the reference's distribution: no feature drift
    batch[SCHEMA.target.name] = (batch[SCHEMA.target.name] * 1.8).clip(upper=5.0)  # prices moved; features did not
    key = story.upload("degraded.csv", batch)
    with promoting_any_challenger(story):
        desc = story.wait_new_execution(known, timeout=240)
    (decision,) = [a for a in story.audit("no_drift") if a["details"].get("key") == key]
    (degraded,) = [a for a in story.audit("degradation_detected") if a["details"].get("key") == key]
    assert degraded["details"]["degraded"] is True and degraded["details"]["ratio"] > 1.2
    (started,) = [a for a in story.audit("retrain_started") if a.get("execution_arn") == desc["executionArn"]]
    assert started["details"]["trigger"] == "degradation"
    assert key in [b["key"] for b in started["details"]["batches"]]
    assert decision["details"]["drifted_share"] < 0.5
    assert [a for a in alerts(story, "degradation") if a["details"]["about"] == degraded["sk"]]
    assert desc["status"] == "SUCCEEDED"
    assert_consistent(story)


def test_recovery_exhausting_its_attempts_alerts_recovery_failed(story):
    inject(story, function=story.cloud.physical("PredictFunction"), fault="error", count=1000)
    resp = story.lam.invoke(FunctionName=story.cloud.physical("RecoverFunction"),
                            Payload=json.dumps({"mode": "scheduled"}).encode())
    body = json.loads(resp["Payload"].read())
    assert resp.get("FunctionError") and body["errorType"] == "RecoveryFailedError", body
    requests.delete(f"{story.cloud.endpoint_url}/_localcloud/faults", timeout=10).raise_for_status()
    (failed,) = story.audit("recovery_failed")[:1]
    (alert,) = [a for a in alerts(story, "recovery_failed") if a["details"]["about"] == failed["sk"]]
    assert "a human is needed" in alert["details"]["message"]["summary"]
    # The serving alias's errors alarm saw those errors too (evaluated by the local cloud, 30x faster here).
    fired = wait_for(lambda: [a for a in alerts(story, "canary_alarm") if a["details"]["message"]["details"]["state"] == "ALARM"],
                     timeout=60, message="the PredictAliasErrorsAlarm's ALARM notification")
    assert "PredictAliasErrorsAlarm" in fired[0]["details"]["message"]["details"]["alarm"]
    # Serving is back once the fault is gone; the next scheduled check finds it healthy.
    wait_for(lambda: story.predict().status_code == 200, timeout=30, message="serving to answer again")
    assert _recover(story)["healthy"] is True
    assert_consistent(story)


# ---- the cloud itself dies -----------------------------------------------------------------------
def test_cloud_killed_mid_execution_restarts_with_it_failed_and_the_lock_reclaimed(story):
    versions_before = story.s3.list_objects_v2(Bucket=story.model_bucket, Prefix=f"models/{MODEL}/")["KeyCount"]
    production = story.alias()
    arn = start_retraining(story, "cloud-dies", seed=206)
    wait_for(lambda: "Train" in story.path(arn), timeout=120, message="the execution to reach Train")
    story.cloud.proc.kill()  # SIGKILL of the whole local cloud (its workers die with it)
    story.cloud.proc.wait(10)

    story.cloud = start_cloud(story.tmp, ROOT / "template.yaml", stack_name="selfheal", extra=CLOUD_ARGS,
                              env={"BOOTSTRAP_ROWS": "12000"})
    story.__init__(story.cloud)
    desc = story.sfn.describe_execution(executionArn=arn)
    assert desc["status"] == "FAILED" and desc["cause"] == "local cloud restarted"
    assert story.alias() == production
    assert story.s3.list_objects_v2(Bucket=story.model_bucket, Prefix=f"models/{MODEL}/")["KeyCount"] >= versions_before
    wait_for(lambda: "already in place" in story.cloud.terminal(), timeout=60, message="bootstrap to skip")
    # Metrics are rebuilt from the restored logs' EMF lines: the prediction count did not restart at 0.
    metrics = story.cloud.client("cloudwatch").list_metrics(Namespace="SelfHeal", MetricName="Predictions")
    assert metrics["Metrics"], "the prediction metrics from before the restart"
    # The dead execution still holds the lock; the next drifted upload finds it ended and takes over.
    known = {e["executionArn"] for e in story.executions()}
    # Mislabelled: production's error on it calls for a retraining whatever the reference is now.
    story.upload("after-restart.csv", datagen.poison_labels(datagen.generate(3000, seed=207, drift=1.0), seed=207))
    new = story.wait_new_execution(known, timeout=240)
    assert new["status"] == "SUCCEEDED", new
    reclaimed = story.audit("lock_reclaimed")
    assert reclaimed and reclaimed[0]["details"]["status"] == "FAILED"
    assert_consistent(story, new["executionArn"])
