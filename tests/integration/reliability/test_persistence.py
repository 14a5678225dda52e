"""Nothing acknowledged is lost: kill -9 of the local cloud, a restart, and what comes back.

Real processes and real kills: the cloud is `localcloud up` in a subprocess, killed with SIGKILL
while clients are writing and an execution is running, then started again on the same data
directory (as `make up` does) and read back through the AWS APIs.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from tests.integration.conftest import FIXTURE_APP, start_cloud, stop_cloud, wait_for

pytestmark = pytest.mark.integration

STACK = "persist"


def _versions(s3, bucket: str) -> dict[str, list[tuple[str, bool]]]:
    out: dict[str, list[tuple[str, bool]]] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for v in page.get("Versions", []):
            out.setdefault(v["Key"], []).append((v["VersionId"], v["IsLatest"]))
        for m in page.get("DeleteMarkers", []):
            out.setdefault(m["Key"], []).append((m["VersionId"], m["IsLatest"]))
    return out


def _status(sfn, arn: str) -> str:
    return sfn.describe_execution(executionArn=arn)["status"]


def _history(sfn, arn: str) -> list[dict]:
    return sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]


class _Writers:
    """Clients writing as fast as they can; every acknowledged key is remembered."""

    def __init__(self, cloud, bucket: str, threads: int = 3) -> None:
        self.acked: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(cloud.client("s3"), bucket, i), daemon=True)
                         for i in range(threads)]

    def _run(self, s3, bucket: str, index: int) -> None:
        n = 0
        while not self._stop.is_set():
            key = f"stream/{index}/{n:06d}"
            try:
                s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
            except (BotoCoreError, ClientError):
                return  # the cloud is gone: this write was never acknowledged
            self.acked.append(key)
            n += 1

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(10)


def test_acknowledged_state_survives_kill_9_and_restart(tmp_path):
    cloud = start_cloud(tmp_path, FIXTURE_APP, stack_name=STACK)
    try:
        s3, ddb, sfn, lam, logs = (cloud.client(s) for s in ("s3", "dynamodb", "stepfunctions", "lambda", "logs"))
        bucket, table = cloud.output("BucketName"), cloud.output("TableName")
        api_before = cloud.physical("ServerlessHttpApi")

        # S3: versions with metadata, a delete marker, and a key that tries to climb out of the data dir.
        v1 = s3.put_object(Bucket=bucket, Key="models/m.onnx", Body=b"first", ContentType="application/x-onnx",
                           Metadata={"sha256": "abc"})["VersionId"]
        v2 = s3.put_object(Bucket=bucket, Key="models/m.onnx", Body=b"second")["VersionId"]
        s3.put_object(Bucket=bucket, Key="deleted.csv", Body=b"a,b\n")
        marker = s3.delete_object(Bucket=bucket, Key="deleted.csv")["VersionId"]
        escape = f"escape-{uuid.uuid4().hex}"
        s3.put_object(Bucket=bucket, Key=f"../../../../../{escape}", Body=b"outside?")
        s3.copy_object(Bucket=bucket, Key="copies/m.onnx", CopySource={"Bucket": bucket, "Key": "models/m.onnx"})
        # DynamoDB: put, update in place, delete.
        ddb.put_item(TableName=table, Item={"pk": {"S": "counter"}, "sk": {"S": "c"}, "n": {"N": "1"}})
        ddb.update_item(TableName=table, Key={"pk": {"S": "counter"}, "sk": {"S": "c"}},
                        UpdateExpression="SET n = n + :one", ExpressionAttributeValues={":one": {"N": "1"}})
        ddb.put_item(TableName=table, Item={"pk": {"S": "gone"}, "sk": {"S": "g"}})
        ddb.delete_item(TableName=table, Key={"pk": {"S": "gone"}, "sk": {"S": "g"}})
        # Logs: an invocation's log lines, once CloudWatch Logs has them.
        info_fn = cloud.physical("InfoFunction")
        request_id = json.loads(lam.invoke(FunctionName=info_fn, Payload=b'{"marker": "persisted"}')["Payload"]
                                .read())["request_id"]
        group = f"/aws/lambda/{info_fn}"
        wait_for(lambda: logs.filter_log_events(logGroupName=group, filterPattern=request_id)["events"],
                 message="the invocation's log lines in CloudWatch Logs")
        # A log group with a one-day retention: its three-day-old event is deleted at the restart.
        logs.create_log_group(logGroupName="/retention/one-day")
        logs.put_retention_policy(logGroupName="/retention/one-day", retentionInDays=1)
        logs.create_log_stream(logGroupName="/retention/one-day", logStreamName="s")
        now_ms = int(time.time() * 1000)
        logs.put_log_events(logGroupName="/retention/one-day", logStreamName="s", logEvents=[
            {"timestamp": now_ms - 3 * 86_400_000, "message": "three days old"},
            {"timestamp": now_ms, "message": "fresh"}])
        # Executions: one finished, one running when the cloud dies.
        done = sfn.start_execution(stateMachineArn=cloud.output("StateMachineArn"),
                                   input=json.dumps({"numbers": [4], "fail_odd": False}))["executionArn"]
        wait_for(lambda: _status(sfn, done) == "SUCCEEDED", message="the flow execution")
        done_history = _history(sfn, done)
        running = sfn.start_execution(stateMachineArn=cloud.output("TimeoutStateMachineArn"),
                                      input="{}")["executionArn"]
        wait_for(lambda: any(e["type"] == "LambdaFunctionStarted" for e in _history(sfn, running)),
                 message="the execution to be inside its first task")

        writers = _Writers(cloud, bucket)
        writers.start()
        time.sleep(1.0)
        cloud.proc.kill()  # SIGKILL: no shutdown code runs
        cloud.proc.wait(10)
        writers.stop()
    finally:
        stop_cloud(cloud)
    assert len(writers.acked) > 20, "the writers should have had time to write"

    again = start_cloud(tmp_path, FIXTURE_APP, stack_name=STACK)
    try:
        s3, ddb, sfn, logs = (again.client(s) for s in ("s3", "dynamodb", "stepfunctions", "logs"))
        versions = _versions(s3, bucket)
        lost = [k for k in writers.acked if k not in versions]
        assert not lost, f"{len(lost)} acknowledged writes lost, e.g. {lost[:5]}"
        assert versions["models/m.onnx"] == [(v2, True), (v1, False)]
        first = s3.get_object(Bucket=bucket, Key="models/m.onnx", VersionId=v1)
        assert first["Body"].read() == b"first"
        assert first["ContentType"] == "application/x-onnx" and first["Metadata"] == {"sha256": "abc"}
        assert s3.get_object(Bucket=bucket, Key="models/m.onnx")["Body"].read() == b"second"
        assert s3.get_object(Bucket=bucket, Key="copies/m.onnx")["Body"].read() == b"second"
        assert (marker, True) in versions["deleted.csv"]
        with pytest.raises(ClientError):
            s3.get_object(Bucket=bucket, Key="deleted.csv")
        assert s3.get_object(Bucket=bucket, Key=f"../../../../../{escape}")["Body"].read() == b"outside?"
        # The data directory holds a journal and content-addressed blobs, nothing named after a key.
        assert not list(tmp_path.parent.rglob(f"*{escape}*"))
        data = again.state_dir / "data"
        for path in data.rglob("*"):
            if path.is_file():
                rel = path.relative_to(data).as_posix()
                assert rel == "journal.jsonl" or re.fullmatch(r"blobs/[0-9a-f]{2}/[0-9a-f]{64}", rel), rel

        items = ddb.scan(TableName=table)["Items"]
        assert items == [{"pk": {"S": "counter"}, "sk": {"S": "c"}, "n": {"N": "2"}}]
        assert logs.filter_log_events(logGroupName=group, filterPattern=request_id)["events"]
        kept = logs.filter_log_events(logGroupName="/retention/one-day")["events"]
        assert [e["message"] for e in kept] == ["fresh"]
        assert logs.describe_log_groups(logGroupNamePrefix="/retention/one-day")["logGroups"][0][
            "retentionInDays"] == 1
        # The redeploy creates the HTTP API anew (the control plane is not persisted): nothing of
        # the old one is left in place, and the terminal does not say otherwise.
        assert again.info["stack"]["resources"]["ServerlessHttpApi"]["physical_id"] != api_before
        assert "left in place" not in again.terminal()

        assert _status(sfn, done) == "SUCCEEDED"
        assert _history(sfn, done) == done_history
        interrupted = sfn.describe_execution(executionArn=running)
        assert interrupted["status"] == "FAILED"
        assert interrupted["cause"] == "local cloud restarted"
        assert _history(sfn, running)[-1]["type"] == "ExecutionFailed"

        # The interrupted execution is redriven from the state it was in, under the same ARN.
        sfn.redrive_execution(executionArn=running)
        wait_for(lambda: _status(sfn, running) == "SUCCEEDED", timeout=30, message="the redriven execution")
        history = _history(sfn, running)
        kinds = [e["type"] for e in history]
        assert kinds.count("ExecutionRedriven") == 1 and kinds[-1] == "ExecutionSucceeded"
        assert [e["id"] for e in history] == list(range(1, len(history) + 1))
        with pytest.raises(ClientError, match="ExecutionNotRedrivable"):
            sfn.redrive_execution(executionArn=done)
    finally:
        stop_cloud(again)

    # A restart keeps the redrive's outcome; --fresh (make up FRESH=1) starts empty.
    third = start_cloud(tmp_path, FIXTURE_APP, stack_name=STACK)
    try:
        assert _status(third.client("stepfunctions"), running) == "SUCCEEDED"
    finally:
        stop_cloud(third)
    fresh = start_cloud(tmp_path, FIXTURE_APP, stack_name=STACK, extra=["--fresh"])
    try:
        assert fresh.client("s3").list_object_versions(Bucket=bucket).get("Versions", []) == []
        assert fresh.client("stepfunctions").list_executions(
            stateMachineArn=fresh.output("StateMachineArn"))["executions"] == []
    finally:
        stop_cloud(fresh)
