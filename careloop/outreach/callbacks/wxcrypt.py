"""WeChat's message encryption (the WXBizMsgCrypt scheme), used by Official Account pushes in
safe mode (安全模式) and by every WeCom callback.

* The key: ``AESKey = Base64_Decode(EncodingAESKey + "=")``, 32 bytes; the IV is its first 16.
* The signature: ``msg_signature = SHA1(sort(token, timestamp, nonce, Encrypt))`` as hex.
* The ciphertext: ``Base64(AES-256-CBC(random(16) + msg_len(4, network order) + msg +
  receiveid))``, padded PKCS#7-style to a multiple of 32 bytes. ``receiveid`` is the Official
  Account's AppID or the WeCom CorpID, and must be ours.

Pure Python (``cryptography`` for AES), no Django; errors are ``CallbackError`` naming what is
wrong, 403 when the push is not for us or not signed by our token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from careloop.outreach.callbacks.base import CallbackError

BLOCK = 32  # WeChat pads to 32 bytes, not AES's 16


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte key from the console's 43-character EncodingAESKey."""
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error as error:
        raise CallbackError("the channel's encoding_aes_key is not valid base64", 500) from error
    if len(encoding_aes_key) != 43 or len(key) != 32:
        raise CallbackError("the channel's encoding_aes_key must be 43 characters", 500)
    return key


def msg_signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    joined = "".join(sorted([token, timestamp, nonce, encrypted]))
    return hashlib.sha1(joined.encode()).hexdigest()  # noqa: S324 (WeChat's protocol)


def check_signature(token: str, timestamp: str, nonce: str, encrypted: str, given: str) -> None:
    wanted = msg_signature(token, timestamp, nonce, encrypted)
    if not hmac.compare_digest(wanted.encode(), given.encode("utf-8", "replace")):
        raise CallbackError("msg_signature does not match", status=403)


def _cipher(key: bytes) -> Cipher[modes.CBC]:
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def decrypt(key: bytes, encrypted: str, receive_id: str) -> bytes:
    """The message inside ``Encrypt``; refuses one made for another AppID / CorpID."""
    try:
        data = base64.b64decode(encrypted, validate=True)
    except binascii.Error as error:
        raise CallbackError("Encrypt is not base64") from error
    if not data or len(data) % 16:
        raise CallbackError("Encrypt is not whole AES blocks")
    decryptor = _cipher(key).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= BLOCK or len(plain) < 20 + pad:
        raise CallbackError("Encrypt does not decrypt with this encoding_aes_key", status=403)
    plain = plain[:-pad]
    (length,) = struct.unpack(">I", plain[16:20])
    if 20 + length > len(plain):
        raise CallbackError("Encrypt does not decrypt with this encoding_aes_key", status=403)
    message, owner = plain[20 : 20 + length], plain[20 + length :]
    if not hmac.compare_digest(owner, receive_id.encode()):
        raise CallbackError("the message was encrypted for another AppID or CorpID", status=403)
    return message


def encrypt(key: bytes, message: bytes, receive_id: str, random16: bytes | None = None) -> str:
    """``Encrypt`` for ``message`` (a reply, or a test's push)."""
    plain = (random16 or os.urandom(16)) + struct.pack(">I", len(message)) + message
    plain += receive_id.encode()
    pad = BLOCK - len(plain) % BLOCK
    plain += bytes([pad]) * pad
    encryptor = _cipher(key).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()
