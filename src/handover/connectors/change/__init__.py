"""The changers: what sets a new password on a target and proves it, one module per platform (Django-free,
like the connectors). The rotation app (issue 15) drives them; a changer never logs, returns or raises a
secret, and never puts one on a command line (第二十二条): a Linux changer sends a client-side SHA-512 crypt
hash on standard input to ``chpasswd -e``.
"""
