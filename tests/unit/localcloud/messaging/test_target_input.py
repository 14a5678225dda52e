"""What an EventBridge target receives: the event, Input, InputPath or InputTransformer."""

from __future__ import annotations

import json

import pytest

from infra.localcloud.messaging.transform import TransformError, render, resolve, target_input

EVENT = {
    "version": "0", "id": "e-1", "detail-type": "Order Placed", "source": "shop.orders",
    "account": "123456789012", "time": "2026-01-01T12:00:00Z", "region": "us-east-1",
    "resources": ["arn:aws:shop:order/1"],
    "detail": {"order": {"id": "o-17", "total": 150.5, "lines": [{"sku": "a"}, {"sku": "b"}]},
               "customer": "Ann \"A\" Lee", "note": None},
}
RULE = {"rule_arn": "arn:aws:events:us-east-1:123456789012:rule/orders", "rule_name": "orders",
        "ingestion_time": "2026-01-01T12:00:01Z"}


def test_without_settings_the_target_gets_the_whole_event():
    assert json.loads(target_input({"Id": "t", "Arn": "x"}, EVENT, **RULE)) == EVENT


def test_input_is_passed_as_is():
    assert target_input({"Input": '{"fixed": true}'}, EVENT, **RULE) == '{"fixed": true}'


def test_input_path_selects_part_of_the_event():
    assert json.loads(target_input({"InputPath": "$.detail.order"}, EVENT, **RULE)) == EVENT["detail"]["order"]
    assert json.loads(target_input({"InputPath": "$"}, EVENT, **RULE)) == EVENT


@pytest.mark.parametrize(("path", "expected"), [
    ("$.detail.order.id", "o-17"),
    ("$.detail['order'].total", 150.5),
    ("$.detail.order.lines[1].sku", "b"),
    ("$.resources[0]", "arn:aws:shop:order/1"),
    ("$.detail.absent.deeper", None),
    ("$.detail.order.lines[5]", None),
])
def test_resolve(path, expected):
    assert resolve(path, EVENT) == expected


def test_resolve_refuses_paths_it_cannot_follow():
    with pytest.raises(TransformError):
        resolve("$.detail.order.lines[*].sku", EVENT)
    with pytest.raises(TransformError):
        resolve("detail.order", EVENT)


def test_transformer_inserts_json_outside_strings_and_text_inside_them():
    target = {"InputTransformer": {
        "InputPathsMap": {"id": "$.detail.order.id", "total": "$.detail.order.total", "who": "$.detail.customer",
                          "lines": "$.detail.order.lines", "nothing": "$.detail.absent"},
        "InputTemplate": '{"order": <id>, "total": <total>, "text": "<who> paid <total> for <id>", '
                         '"lines": <lines>, "gone": <nothing>, "empty": "<nothing>"}',
    }}
    out = json.loads(target_input(target, EVENT, **RULE))
    assert out == {"order": "o-17", "total": 150.5, "text": 'Ann "A" Lee paid 150.5 for o-17',
                   "lines": [{"sku": "a"}, {"sku": "b"}], "gone": None, "empty": ""}


def test_a_string_template_gives_a_json_string():
    # AWS's documented example: InputTemplate "\"<instance> is in state <state>\"".
    target = {"InputTransformer": {"InputPathsMap": {"id": "$.detail.order.id"},
                                   "InputTemplate": '"Order <id> was placed"'}}
    assert json.loads(target_input(target, EVENT, **RULE)) == "Order o-17 was placed"


def test_predefined_variables():
    target = {"InputTransformer": {"InputTemplate": '{"rule": "<aws.events.rule-name>", "arn": <aws.events.rule-arn>, '
                                                    '"at": "<aws.events.event.ingestion-time>", '
                                                    '"meta": <aws.events.event>, "all": <aws.events.event.json>}'}}
    out = json.loads(target_input(target, EVENT, **RULE))
    assert out["rule"] == "orders" and out["arn"] == RULE["rule_arn"] and out["at"] == "2026-01-01T12:00:01Z"
    assert "detail" not in out["meta"] and out["meta"]["id"] == "e-1"
    assert out["all"] == EVENT


def test_unknown_placeholders_and_escaped_quotes_are_left_alone():
    assert render('{"a": "<b> \\"<c>\\"", "d": "<x>"}', {"x": 1}) == '{"a": "<b> \\"<c>\\"", "d": "1"}'


def test_a_transformer_without_template_is_refused():
    with pytest.raises(TransformError):
        target_input({"InputTransformer": {"InputPathsMap": {}}}, EVENT, **RULE)
