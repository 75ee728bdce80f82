"""A fake Alibaba Cloud ECS API (RPC style, signature version 1.0) for the sandbox, with the
instance RAM role's credentials it checks against.

It rejects what Alibaba rejects, with Alibaba's error codes: a missing common parameter
(Missing{Name}), a malformed or stale Timestamp, a reused SignatureNonce, an unknown
AccessKeyId, an STS key without its SecurityToken, and a signature that does not match the
one it recomputes with the secret the fake metadata handed out (SignatureDoesNotMatch, whose
message quotes the server's string to sign, as Alibaba's does). The role's policy covers only
this instance; deleting a running instance needs Force=true.
https://www.alibabacloud.com/help/en/sdk/product-overview/rpc-mechanism
https://help.aliyun.com/en/document_detail/434846.html (common error codes)
https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-deleteinstance
https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-stopinstance
Not modelled: other actions, the XML format, RAM policies beyond "this instance only".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qs, quote

from tests.fakes.http import Request, Response

ROLE = "cml-self-delete"
INSTANCE = "i-sandbox0001"
REGION = "us-east-1"
REQUIRED = ("Action", "Version", "AccessKeyId", "SignatureMethod", "SignatureVersion",
            "SignatureNonce", "Timestamp", "Signature")
MAX_SKEW_S = 15 * 60


def _b64_secret(size: int) -> str:
    """Random base64 text: its +, / and = must be percent-encoded to sign right."""
    return base64.b64encode(secrets.token_bytes(size)).decode()


@dataclass
class EcsState:
    key_id: str = field(default_factory=lambda: "STS.NV" + secrets.token_hex(8))
    secret: str = field(default_factory=lambda: _b64_secret(30))
    token: str = field(default_factory=lambda: "CAIS" + _b64_secret(300))
    handed_secret: str | None = None
    """What the metadata hands out instead of the secret the API checks (None: the same)."""
    status: str = "Running"
    """Running, Stopped or Deleted."""
    stopped_mode: str = ""
    delete_code: str = ""
    """Set to fail DeleteInstance with this code (Forbidden.RAM: 403, else 500)."""
    nonces: set[str] = field(default_factory=set)
    answers: list[tuple[str, str]] = field(default_factory=list)
    """(Action, Code or "OK") of every call, in order."""

    def credentials(self) -> str:
        secret = self.secret if self.handed_secret is None else self.handed_secret
        return json.dumps({"AccessKeyId": self.key_id, "AccessKeySecret": secret,
                           "Expiration": "2099-01-01T00:00:00Z", "SecurityToken": self.token,
                           "LastUpdated": "2026-01-01T00:00:00Z", "Code": "Success"})


def encode(text: str) -> str:
    return quote(text, safe="-_.~")


def string_to_sign(method: str, params: dict[str, str]) -> str:
    canonical = "&".join(f"{encode(k)}={encode(v)}" for k, v in sorted(params.items())
                         if k != "Signature")
    return f"{method}&{encode('/')}&{encode(canonical)}"


def signature(secret: str, text: str) -> str:
    digest = hmac.new(f"{secret}&".encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def handle(state: EcsState, request: Request) -> Response:
    params = dict(request.query)
    if request.method == "POST":
        params.update({k: v[-1] for k, v in parse_qs(request.body.decode()).items()})
    status, code, message = _check(state, request.method, params) or _act(state, params)
    state.answers.append((params.get("Action", ""), code or "OK"))
    body = {"RequestId": str(uuid.uuid4()).upper()}
    if code:
        body |= {"Code": code, "Message": message, "HostId": "ecs.aliyuncs.com"}
    return Response(status, body)


Answer = tuple[int, str, str]


def _check(state: EcsState, method: str, params: dict[str, str]) -> Answer | None:
    for name in REQUIRED:
        if not params.get(name):
            return 400, f"Missing{name}", f"{name} is mandatory for this action."
    if params["SignatureMethod"] != "HMAC-SHA1":
        return 400, "InvalidSignatureMethod", "Specified signature method is not valid."
    if params["SignatureVersion"] != "1.0":
        return 400, "IncompleteSignature", "The request signature does not conform to Aliyun " \
                                           "standards."
    try:
        stamp = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return 400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not " \
                                               "well formatted."
    skew = abs((datetime.now(timezone.utc).replace(tzinfo=None) - stamp).total_seconds())
    if skew > MAX_SKEW_S:
        return 400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."
    if params["SignatureNonce"] in state.nonces:
        return 400, "SignatureNonceUsed", "Specified signature nonce was used already."
    state.nonces.add(params["SignatureNonce"])
    if params["AccessKeyId"] != state.key_id:
        return 404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
    if not params.get("SecurityToken"):
        return 400, "MissingSecurityToken", "SecurityToken is mandatory for this action."
    if params["SecurityToken"] != state.token:
        return 400, "InvalidSecurityToken.MismatchWithAccessKey", \
            "Specified SecurityToken mismatch with the AccessKey."
    expected = string_to_sign(method, params)
    if not hmac.compare_digest(params["Signature"], signature(state.secret, expected)):
        return 400, "SignatureDoesNotMatch", "Specified signature is not matched with our " \
                                             f"calculation. server string to sign is:{expected}"
    return None


def _act(state: EcsState, params: dict[str, str]) -> Answer:
    action = params["Action"]
    if params["Version"] != "2014-05-26" or action not in ("DeleteInstance", "StopInstance"):
        return 404, "InvalidApi.NotFound", "Specified api is not found, please check your url " \
                                           "and method."
    if not params.get("InstanceId"):
        return 400, "MissingInstanceId", "InstanceId is mandatory for this action."
    if params["InstanceId"] != INSTANCE or state.status == "Deleted":
        return 403, "Forbidden.RAM", "User not authorized to operate on the specified resource."
    if action == "DeleteInstance":
        if state.delete_code:
            return (403 if state.delete_code == "Forbidden.RAM" else 500), state.delete_code, \
                "The request failed."
        if state.status == "Running" and params.get("Force") != "true":
            return 403, "IncorrectInstanceStatus", "The current status of the resource does " \
                                                   "not support this operation."
        state.status = "Deleted"
        return 200, "", ""
    if params.get("StoppedMode", "KeepCharging") not in ("StopCharging", "KeepCharging"):
        return 400, "InvalidParameter", "The specified parameter StoppedMode is not valid."
    state.status, state.stopped_mode = "Stopped", params.get("StoppedMode", "KeepCharging")
    return 200, "", ""
