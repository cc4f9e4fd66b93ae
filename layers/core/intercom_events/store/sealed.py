"""Instance secrets sealed with the deployment's KMS key.

The secrets of one instance are a few hundred bytes, under KMS's 4 KB limit, so they are encrypted
directly (no data key), bound to the instance by the encryption context: a sealed blob copied onto
another instance will not open.
"""

from __future__ import annotations

import json
from typing import Any

from ..config import settings
from ..observability import tracer
from .aws import client


@tracer.capture_method(capture_response=False)
def seal(instance_id: int, secrets: dict[str, Any]) -> bytes:
    answer = client("kms").encrypt(
        KeyId=settings().kms_key_id,
        Plaintext=json.dumps(secrets).encode(),
        EncryptionContext={"instanceId": str(instance_id)},
    )
    return bytes(answer["CiphertextBlob"])


@tracer.capture_method(capture_response=False)
def unseal(instance_id: int, blob: bytes) -> dict[str, Any]:
    answer = client("kms").decrypt(
        CiphertextBlob=blob,
        KeyId=settings().kms_key_id,
        EncryptionContext={"instanceId": str(instance_id)},
    )
    secrets: dict[str, Any] = json.loads(answer["Plaintext"])
    return secrets
