"""The wire protocol between the hub and the agents on devices (docs/terminal-protocol.md):
the `{type, data}` frame, the message types and their vocabulary, the close codes and a device
token's claims.

Pure: the standard library only, no I/O, nothing else of Kassa. The hub (`kassa.web`,
`kassa.services`) and every agent (`kassa.agent`, on top of `kassa.agentkit`) import it, so
both ends read one definition. Each kind of device adds its own module beside these (e.g.
`terminal`): its endpoint and operation kinds.
"""

from kassa.protocol.claims import ClaimsError, DeviceKind, TokenClaims, unverified_payload
from kassa.protocol.close_codes import CloseCode
from kassa.protocol.frames import MAX_FRAME_BYTES, Frame, FrameError
from kassa.protocol.messages import (
    ErrorCode,
    MessageType,
    OperationStatus,
    ResultCode,
    failed_result,
    ok_result,
)

__all__ = [
    "MAX_FRAME_BYTES",
    "ClaimsError",
    "CloseCode",
    "DeviceKind",
    "ErrorCode",
    "Frame",
    "FrameError",
    "MessageType",
    "OperationStatus",
    "ResultCode",
    "TokenClaims",
    "failed_result",
    "ok_result",
    "unverified_payload",
]
