"""Python 3.12's uuid.uuid5 accepts bytes names; LocalStack 4.13.1's KMS
(CreateKey) relies on it. Installed into LocalStack's venv on Python 3.11
(with a .pth line that imports it) so that KMS keys can be created there.
Same result as 3.12: SHA-1 over the namespace bytes and the name bytes."""

import sys
import uuid

if sys.version_info < (3, 12):
    _uuid5 = uuid.uuid5

    def _uuid5_bytes(namespace, name):
        if isinstance(name, (bytes, bytearray)):
            from hashlib import sha1

            digest = sha1(namespace.bytes + bytes(name), usedforsecurity=False).digest()
            return uuid.UUID(bytes=digest[:16], version=5)
        return _uuid5(namespace, name)

    uuid.uuid5 = _uuid5_bytes
