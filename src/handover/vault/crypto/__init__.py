"""The vault's cryptographic core, free of Django so that it can be tested and reviewed on its own.

- ``shamir``: split the master key into k-of-n shares over GF(256) and combine them again.
- ``ciphers``: AES-256-GCM and SM4-GCM behind one ``Cipher`` interface.
- ``envelope``: one fresh data key per secret, wrapped by a key derived from the master key.
- ``errors``: the exceptions, whose messages never carry key, share or plaintext material.

Python cannot erase memory: ``bytes`` are immutable, the interpreter and OpenSSL make copies, and the
garbage collector frees buffers without clearing them. The best we can do, and what this package does, is
keep key material in local variables only (no module globals, no caches, no ``repr``), so that it becomes
unreachable as soon as a call returns, and never put it into an exception, a log line or a ``repr``.
"""
