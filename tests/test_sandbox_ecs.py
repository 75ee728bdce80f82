"""The sandbox's fake Alibaba ECS API rejects what Alibaba rejects: it signs Alibaba's own
documented example to the documented value, and refuses bad signatures, missing or stale
timestamps, reused nonces, tokens that do not match, and instances outside the role's policy."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.fakes.http import Request
from tests.sandbox import ecs


def test_the_signer_matches_alibabas_documented_example() -> None:
    """https://www.alibabacloud.com/help/en/sdk/product-overview/rpc-mechanism: DescribeRegions
    signed with the secret testsecret."""
    params = {"AccessKeyId": "testid", "Action": "DescribeRegions", "Format": "XML",
              "SignatureMethod": "HMAC-SHA1",
              "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
              "SignatureVersion": "1.0", "Timestamp": "2016-02-23T12:46:24Z",
              "Version": "2014-05-26"}
    text = ecs.string_to_sign("GET", params)
    assert text.startswith("GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions")
    assert "Timestamp%3D2016-02-23T12%253A46%253A24Z" in text
    assert ecs.signature("testsecret", text) == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def _request(state: ecs.EcsState, secret: str | None = None, method: str = "GET",
             **changes: Any) -> Request:
    """A DeleteInstance call signed as the startup script signs it; `changes` edit the
    parameters before signing (None removes one)."""
    now = datetime.now(timezone.utc)
    params = {"Action": "DeleteInstance", "InstanceId": ecs.INSTANCE, "Force": "true",
              "Format": "JSON", "Version": "2014-05-26", "AccessKeyId": state.key_id,
              "SecurityToken": state.token, "SignatureMethod": "HMAC-SHA1",
              "SignatureVersion": "1.0", "SignatureNonce": str(uuid.uuid4()),
              "Timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
    params.update(changes)
    params = {k: v for k, v in params.items() if v is not None}
    params["Signature"] = ecs.signature(secret or state.secret,
                                        ecs.string_to_sign(method, params))
    return Request(method, "/", params, {}, b"")


def _code(state: ecs.EcsState, request: Request) -> tuple[int, str]:
    response = ecs.handle(state, request)
    return response.status, response.body.get("Code", "OK")


def test_a_correctly_signed_delete_releases_the_instance() -> None:
    state = ecs.EcsState()
    assert _code(state, _request(state)) == (200, "OK")
    assert state.status == "Deleted"


@pytest.mark.parametrize(("changes", "expected"), [
    ({"Timestamp": None}, (400, "MissingTimestamp")),
    ({"SignatureNonce": None}, (400, "MissingSignatureNonce")),
    ({"Timestamp": "2026-01-01 00:00:00"}, (400, "InvalidTimeStamp.Format")),
    ({"Timestamp": (datetime.now(timezone.utc) - timedelta(minutes=16))
      .strftime("%Y-%m-%dT%H:%M:%SZ")}, (400, "InvalidTimeStamp.Expired")),
    ({"SignatureMethod": "HMAC-SHA256"}, (400, "InvalidSignatureMethod")),
    ({"AccessKeyId": "STS.other"}, (404, "InvalidAccessKeyId.NotFound")),
    ({"SecurityToken": None}, (400, "MissingSecurityToken")),
    ({"SecurityToken": "CAISother"}, (400, "InvalidSecurityToken.MismatchWithAccessKey")),
    ({"InstanceId": "i-someoneelse"}, (403, "Forbidden.RAM")),
    ({"Force": None}, (403, "IncorrectInstanceStatus")),
    ({"Action": "RunInstances"}, (404, "InvalidApi.NotFound")),
])
def test_what_alibaba_refuses_is_refused(changes: dict[str, Any],
                                         expected: tuple[int, str]) -> None:
    state = ecs.EcsState()
    assert _code(state, _request(state, **changes)) == expected
    assert state.status == "Running"


def test_a_wrong_secret_is_a_signature_mismatch_quoting_the_string_to_sign() -> None:
    state = ecs.EcsState()
    response = ecs.handle(state, _request(state, secret="wrong"))
    assert (response.status, response.body["Code"]) == (400, "SignatureDoesNotMatch")
    assert "server string to sign is:GET&%2F&" in response.body["Message"]


def test_signing_another_method_or_tampering_after_signing_is_refused() -> None:
    state = ecs.EcsState()
    posted = _request(state, method="POST")
    assert _code(state, Request("GET", "/", posted.query, {}, b"")) == (
        400, "SignatureDoesNotMatch")
    tampered = _request(state)
    tampered.query["InstanceId"] = "i-other"
    assert _code(state, tampered) == (400, "SignatureDoesNotMatch")


def test_a_nonce_is_accepted_once() -> None:
    state = ecs.EcsState()
    request = _request(state, Action="StopInstance", StoppedMode="StopCharging", Force=None)
    assert _code(state, request) == (200, "OK")
    assert _code(state, request) == (400, "SignatureNonceUsed")
    assert (state.status, state.stopped_mode) == ("Stopped", "StopCharging")
