"""Listeners bind 127.0.0.1 unless a flag says otherwise, and then a warning says what that exposes."""

from __future__ import annotations

import logging

import pytest

from console.__main__ import is_loopback
from infra.localcloud.cli import _cloud_config, build_parser


def _config(caplog: pytest.LogCaptureFixture, *argv: str):
    args = build_parser().parse_args(["up", *argv])
    with caplog.at_level(logging.WARNING, logger="localcloud"):
        return _cloud_config(args, port=args.port, api_port=args.api_port)


def test_the_cloud_binds_loopback_by_default_without_a_warning(caplog):
    config = _config(caplog)
    assert config.host == "127.0.0.1"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_binding_elsewhere_is_allowed_with_a_warning_naming_the_address(caplog):
    config = _config(caplog, "--host", "0.0.0.0")
    assert config.host == "0.0.0.0"
    (warning,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "0.0.0.0" in warning.getMessage() and "other machines" in warning.getMessage()


@pytest.mark.parametrize("host,loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                           ("0.0.0.0", False), ("192.168.1.5", False), ("::", False)])
def test_the_console_knows_which_addresses_are_loopback(host, loopback):
    assert is_loopback(host) is loopback
