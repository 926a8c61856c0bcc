"""gunicorn's configuration under ``handover serve`` (``--config python:handover.vault.keeper.preload``):
the master reads the key keeper's caller secret from its pipe before it forks, so every worker inherits it in
memory. It sets no gunicorn option; ``serve`` passes those on the command line."""

from handover.vault.keeper.secret import caller_secret

caller_secret()
