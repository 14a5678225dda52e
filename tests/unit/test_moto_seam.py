"""The seam the local cloud patches in moto. If a moto upgrade moves it, this fails loudly."""

from __future__ import annotations

import inspect
from importlib.metadata import version


def test_moto_is_the_pinned_version():
    assert version("moto") == "5.2.5", "re-verify infra/localcloud/motobridge.py against the new moto"


def test_lambda_invoke_entry_points_exist_with_the_expected_signatures():
    from moto.awslambda.models import LambdaFunction

    assert list(inspect.signature(LambdaFunction.invoke).parameters) == [
        "self", "body", "request_headers", "response_headers"]
    assert "event" in inspect.signature(LambdaFunction._invoke_lambda).parameters


def test_s3_and_events_notification_hooks_exist():
    import moto.events.notifications as ev
    import moto.s3.notifications as s3n

    assert list(inspect.signature(s3n._invoke_awslambda).parameters) == [
        "account_id", "event_body", "fn_arn", "region_name"]
    assert list(inspect.signature(ev._invoke_lambda).parameters) == ["account_id", "fn_arn", "event"]
    # S3 calls the hook from inside PutObject; the bridge must replace exactly this name.
    assert "_invoke_awslambda(" in inspect.getsource(s3n.send_event)


def test_step_functions_calls_lambda_through_the_invoke_api():
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    src = inspect.getsource(lambda_eval_utils)
    assert "lambda_client.invoke(" in src
    from moto.stepfunctions.parser.asl.utils import boto_client

    assert "moto_server_port()" in inspect.getsource(boto_client)


def test_step_functions_parser_backend_start_execution_signature():
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    assert list(inspect.signature(StepFunctionsParserBackend.start_execution).parameters) == [
        "self", "state_machine_arn", "name", "execution_input", "trace_header"]


def test_cloudwatch_names_the_local_cloud_uses_exist():
    # infra/localcloud/emf.py appends aggregates to the backend's list; motofixes replaces the lister.
    from moto.cloudwatch.models import CloudWatchBackend, MetricAggregatedDatum

    assert list(inspect.signature(MetricAggregatedDatum).parameters) == [
        "namespace", "name", "min_stat", "max_stat", "sample_count", "sum_stat", "dimensions", "timestamp", "unit"]
    assert "self.metric_data" in inspect.getsource(CloudWatchBackend.__init__)
    assert list(inspect.signature(CloudWatchBackend.get_filtered_metrics).parameters) == [
        "self", "metric_name", "namespace", "dimensions"]


def test_s3_backend_methods_that_create_keys_take_the_key_argument_motofixes_checks():
    # motofixes refuses keys over 1,024 bytes (KeyTooLongError) by wrapping these methods.
    from moto.s3.models import S3Backend

    from infra.localcloud.motofixes import _KEY_WRITES

    for name, argument in _KEY_WRITES.items():
        assert argument in inspect.signature(getattr(S3Backend, name)).parameters, name


def test_cloudwatch_logs_names_the_retention_uses_exist():
    # persistence/capture.py journals retention policies by these argument names; logretention.py
    # deletes expired events through these attributes of moto's log groups and streams.
    from moto.logs.models import LogEvent, LogGroup, LogsBackend, LogStream

    assert list(inspect.signature(LogsBackend.put_retention_policy).parameters) == [
        "self", "log_group_name", "retention_in_days"]
    assert list(inspect.signature(LogsBackend.delete_retention_policy).parameters) == ["self", "log_group_name"]
    for cls, attributes in ((LogGroup, ("retention_in_days", "streams")), (LogStream, ("events", "stored_bytes")),
                            (LogEvent, ("timestamp", "message"))):
        source = inspect.getsource(cls.__init__)
        assert all(f"self.{name}" in source for name in attributes), cls.__name__


def test_sns_fans_out_through_subscription_publish():
    # motohooks.py replaces Subscription.publish: moto's delivers synchronously inside Publish (SQS
    # in-process, a bare requests.post, Lambda through Docker); AWS delivers asynchronously.
    from moto.sns.models import Subscription, Topic

    assert list(inspect.signature(Subscription.publish).parameters) == [
        "self", "message", "message_id", "subject", "message_attributes", "group_id", "deduplication_id",
        "message_structure"]
    assert "subscription.publish(" in inspect.getsource(Topic.publish)
    assert "_parse_message_structure" in dir(Subscription)
    assert "self._filter_policy_matcher" in inspect.getsource(Subscription.__init__)


def test_eventbridge_rules_deliver_through_send_to_targets():
    from moto.events.models import EventPattern, EventsBackend, Rule

    assert list(inspect.signature(Rule.send_to_targets).parameters) == ["self", "original_event", "transform_input"]
    assert "rule.send_to_targets(event_msg)" in inspect.getsource(EventsBackend.put_events)
    assert hasattr(EventPattern, "dump") and "self.event_pattern = EventPattern.load(" in inspect.getsource(Rule.__init__)


def test_every_execution_ending_passes_through_terminated():
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    assert list(inspect.signature(BaseExecutionWorkerCommunication.terminated).parameters) == ["self"]
    assert "self._execution_communication.terminated()" in inspect.getsource(ExecutionWorker._execution_logic)
    assert list(inspect.signature(Execution.start).parameters) == ["self"]
    source = inspect.getsource(Execution.__init__)
    assert all(f"self.{name} =" in source for name in (
        "execution_arn", "state_machine_arn", "execution_input", "exec_status", "stop_date", "output", "error",
        "cause", "exec_worker", "start_date", "sm_type"))


def test_cloudwatch_metric_data_the_alarms_read():
    from moto.cloudwatch.models import Alarm, CloudWatchBackend, MetricAggregatedDatum, MetricDatum

    # motohooks.py: a new alarm starts in INSUFFICIENT_DATA and an update keeps the state (moto: OK, always).
    assert list(inspect.signature(CloudWatchBackend.put_metric_alarm).parameters)[:2] == ["self", "name"]
    assert "self.alarms[name] = alarm" in inspect.getsource(CloudWatchBackend.put_metric_alarm)
    assert all(f"self.{a}" in inspect.getsource(Alarm.__init__)
               for a in ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp", "history"))

    datum = MetricAggregatedDatum(namespace="n", name="m", min_stat=1, max_stat=2, sample_count=2, sum_stat=3,
                                  dimensions=[{"Name": "a", "Value": "b"}], timestamp=None, unit="Count")
    assert (datum.min, datum.max, datum.sample_count, datum.sum) == (1, 2, 2, 3)
    assert (datum.dimensions[0].name, datum.dimensions[0].value) == ("a", "b")
    assert "self.value = value" in inspect.getsource(MetricDatum.__init__)
    assert list(inspect.signature(CloudWatchBackend.get_all_metrics).parameters) == ["self"]
