"""Execution console: executions, models, drift, audit and functions of the self-healing pipeline.

Everything is read through the AWS APIs (Step Functions, S3, DynamoDB, Lambda, CloudWatch Logs)
of the endpoint in ``AWS_ENDPOINT_URL`` / the local cloud's ``endpoints.json``, so the same console
works against the local cloud, LocalStack or AWS. Run it with ``python -m console``.
"""
