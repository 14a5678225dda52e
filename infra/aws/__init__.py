"""Deployment helpers for AWS and LocalStack: what `sam build` makes of the template, and its limits."""
