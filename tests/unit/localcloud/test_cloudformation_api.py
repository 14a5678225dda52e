"""The CloudFormation read API's protocol pieces: XML, list parameters, paging, what goes on to moto."""

from __future__ import annotations

from pathlib import Path

import botocore.session
from botocore.parsers import QueryParser

from infra.localcloud.cloudformation import PAGE_SIZE, CloudFormationApi, _members, _page, to_xml

NO_STACKS = Path("/nonexistent/localcloud-state")


def _parse(operation: str, body: bytes, status: int) -> dict:
    model = botocore.session.get_session().get_service_model("cloudformation").operation_model(operation)
    return QueryParser().parse({"body": body, "headers": {}, "status_code": status}, model.output_shape)


def test_xml_nests_structures_lists_as_members_and_omits_none() -> None:
    xml = to_xml({"Stacks": [{"StackName": "a<b", "Outputs": [], "Description": None, "DisableRollback": True}]})
    assert xml == ("<Stacks><member><StackName>a&lt;b</StackName><Outputs></Outputs>"
                   "<DisableRollback>true</DisableRollback></member></Stacks>")


def test_list_parameters_are_read_in_member_order() -> None:
    params = {"StackStatusFilter.member.2": "UPDATE_COMPLETE", "StackStatusFilter.member.1": "CREATE_COMPLETE"}
    assert _members(params, "StackStatusFilter") == ["CREATE_COMPLETE", "UPDATE_COMPLETE"]


def test_pages_carry_a_next_token_until_the_last() -> None:
    items = list(range(PAGE_SIZE + 1))
    first, token = _page(items, {})
    assert len(first) == PAGE_SIZE and token == str(PAGE_SIZE)
    assert _page(items, {"NextToken": token}) == ([PAGE_SIZE], None)


def test_an_unknown_stack_is_aws_validation_error() -> None:
    api = CloudFormationApi(NO_STACKS, "123456789012")
    status, _, body = api("DescribeStacks", {"StackName": "ghost"}, "us-east-1") or (0, {}, b"")
    assert status == 400
    assert b"<Code>ValidationError</Code>" in body and b"Stack with id ghost does not exist" in body


def test_no_stacks_answers_an_empty_list_that_botocore_parses() -> None:
    api = CloudFormationApi(NO_STACKS, "123456789012")
    status, _, body = api("ListStacks", {}, "us-east-1") or (0, {}, b"")
    assert status == 200 and _parse("ListStacks", body, status)["StackSummaries"] == []


def test_writes_and_template_summaries_of_a_body_go_on_to_moto() -> None:
    api = CloudFormationApi(NO_STACKS, "123456789012")
    assert api("CreateStack", {"StackName": "x"}, "us-east-1") is None
    assert api("GetTemplateSummary", {"TemplateBody": "{}"}, "us-east-1") is None


def test_execute_api_outputs_of_the_stacks_apis_become_local_api_port_urls() -> None:
    from infra.localcloud.cloudformation import local_api_url

    kinds = {"abc123": "rest", "h77": "http"}
    local = "http://127.0.0.1:3000"
    assert (local_api_url("https://abc123.execute-api.us-east-1.amazonaws.com/Prod/hello/", kinds, local)
            == "http://127.0.0.1:3000/restapis/abc123/Prod/_user_request_/hello/")
    assert (local_api_url("https://abc123.execute-api.us-east-1.amazonaws.com/Prod", kinds, local)
            == "http://127.0.0.1:3000/restapis/abc123/Prod/_user_request_/")
    assert local_api_url("https://h77.execute-api.eu-west-1.amazonaws.com", kinds, local) == "http://127.0.0.1:3000/"
    assert local_api_url("https://h77.execute-api.eu-west-1.amazonaws.com/items", kinds, local) == local + "/items"
    # Not one of the stack's APIs, not an execute-api URL, no API port: kept as deployed.
    assert local_api_url("https://zzz.execute-api.us-east-1.amazonaws.com/Prod/", kinds, local).startswith("https://zzz")
    assert local_api_url("https://example.com/Prod/", kinds, local) == "https://example.com/Prod/"
    assert local_api_url("https://abc123.execute-api.us-east-1.amazonaws.com/Prod/", kinds, None).startswith("https://")
