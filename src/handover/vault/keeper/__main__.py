"""``python -m handover.vault.keeper --socket PATH``: run the key keeper."""

from handover.vault.keeper.server import main

main()
