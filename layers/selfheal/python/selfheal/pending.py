"""Batches that arrived while a retraining was locked or cooling down; they join the next one."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from selfheal.clock import Clock, isoformat, utc_now

_PK = "PENDING"


class PendingBatches:
    def __init__(self, dynamodb_client: Any, table_name: str, *, clock: Clock = utc_now):
        self._ddb = dynamodb_client
        self._table = table_name
        self._clock = clock

    def add(self, bucket: str, key: str, reason: str) -> None:
        self._ddb.put_item(TableName=self._table, Item={
            "pk": {"S": _PK}, "sk": {"S": key}, "bucket": {"S": bucket}, "reason": {"S": reason},
            "at": {"S": isoformat(self._clock())}})

    def list(self) -> list[dict[str, str]]:
        items: list[dict[str, str]] = []
        kwargs: dict[str, Any] = {"TableName": self._table, "KeyConditionExpression": "pk = :p",
                                  "ExpressionAttributeValues": {":p": {"S": _PK}}, "ConsistentRead": True}
        while True:
            page = self._ddb.query(**kwargs)
            items += [{"bucket": i["bucket"]["S"], "key": i["sk"]["S"], "reason": i["reason"]["S"]} for i in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def remove(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._ddb.delete_item(TableName=self._table, Key={"pk": {"S": _PK}, "sk": {"S": key}})
