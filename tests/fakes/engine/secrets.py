"""The passphrase secrets provider: a salt state in Pulumi.<stack>.yaml, AES-256-GCM values.

Shaped like the real provider (state `v1:<salt>:v1:<nonce>:<ciphertext of "pulumi">`, values
`v1:<nonce>:<ciphertext>`), but the key is derived with far fewer PBKDF2 rounds than the real
CLI's 1,000,000, to keep tests fast. Nothing here is compatible with real Pulumi state.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.fakes.engine.errors import CliError
from tests.fakes.engine.props import SECRET, SIG, is_secret

ROUNDS = 20_000
MISSING = ("passphrase must be set with PULUMI_CONFIG_PASSPHRASE or "
           "PULUMI_CONFIG_PASSPHRASE_FILE environment variables")
INCORRECT = "incorrect passphrase"


class Crypter:
    def __init__(self, passphrase: str, salt: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        key = hashlib.pbkdf2_hmac("sha256", passphrase.encode(), salt, ROUNDS, 32)
        self._aes = AESGCM(key)

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aes.encrypt(nonce, plaintext.encode(), None)
        return f"v1:{_b64(nonce)}:{_b64(sealed)}"

    def decrypt(self, value: str) -> str:
        from cryptography.exceptions import InvalidTag
        try:
            version, nonce, sealed = value.split(":")
            if version != "v1":
                raise ValueError(version)
            return self._aes.decrypt(base64.b64decode(nonce), base64.b64decode(sealed),
                                     None).decode()
        except (ValueError, InvalidTag) as exc:
            raise CliError("failed to decrypt: incorrect passphrase, please set "
                           "PULUMI_CONFIG_PASSPHRASE to the correct passphrase or set "
                           "PULUMI_CONFIG_PASSPHRASE_FILE to a file containing the "
                           "passphrase") from exc


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def read_passphrase(env: Mapping[str, str]) -> str:
    if "PULUMI_CONFIG_PASSPHRASE" in env:
        return env["PULUMI_CONFIG_PASSPHRASE"]
    path = env.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise CliError(f"unable to read PULUMI_CONFIG_PASSPHRASE_FILE: {exc}") from exc
    raise CliError(MISSING)


def new_state(passphrase: str) -> tuple[str, Crypter]:
    salt = os.urandom(8)
    crypter = Crypter(passphrase, salt)
    return f"v1:{_b64(salt)}:{crypter.encrypt('pulumi')}", crypter


def open_state(passphrase: str, state: str) -> Crypter:
    """The crypter for a salt state; CliError("incorrect passphrase") if it does not fit."""
    parts = state.split(":", 2)
    if len(parts) != 3 or parts[0] != "v1":
        raise CliError("malformed state value")
    crypter = Crypter(passphrase, base64.b64decode(parts[1]))
    try:
        ok = crypter.decrypt(parts[2]) == "pulumi"
    except CliError:
        ok = False
    if not ok:
        raise CliError(INCORRECT)
    return crypter


def seal(value: Any, crypter: Crypter) -> Any:
    """Secrets in memory (`value`) -> secrets on disk (`ciphertext`)."""
    if is_secret(value):
        if "ciphertext" in value:
            return value
        return {SIG: SECRET, "ciphertext": crypter.encrypt(json.dumps(value.get("value")))}
    if isinstance(value, dict):
        return {k: seal(v, crypter) for k, v in value.items()}
    if isinstance(value, list):
        return [seal(v, crypter) for v in value]
    return value


def unseal(value: Any, crypter: Crypter | None) -> Any:
    """Secrets on disk or in an export (`ciphertext` / `plaintext`) -> secrets in memory."""
    if is_secret(value):
        if "ciphertext" in value:
            if crypter is None:
                return value
            return {SIG: SECRET, "value": json.loads(crypter.decrypt(value["ciphertext"]))}
        if "plaintext" in value:
            return {SIG: SECRET, "value": json.loads(value["plaintext"])}
        return value
    if isinstance(value, dict):
        return {k: unseal(v, crypter) for k, v in value.items()}
    if isinstance(value, list):
        return [unseal(v, crypter) for v in value]
    return value


def exportable(value: Any) -> Any:
    """In-memory secrets as `stack export --show-secrets` prints them (`plaintext`)."""
    if is_secret(value):
        return {SIG: SECRET, "plaintext": json.dumps(value.get("value"))}
    if isinstance(value, dict):
        return {k: exportable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [exportable(v) for v in value]
    return value
