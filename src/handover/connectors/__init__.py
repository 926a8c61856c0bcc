"""The connector engine: gather accounts, rights and keys from the firm's systems, live or from files.

Like ``handover.fixity`` this package imports no Django and nothing of ``handover`` outside itself, so that
``handover-agent`` runs it at a site with no network to head office (第二十八条第8项). The Django side (runs,
vault credentials, review findings into the registers, pages) is ``handover.discovery``.

One connector per platform, each a module with a ``MANIFEST`` (``manifest.Manifest``) and two entry points:

* ``async def gather(target: Target, credential: Credential) -> Inventory`` — live, over the network;
* ``def parse(source: Path) -> Inventory`` — offline, from files the firm or the agent's script produced.

Both produce the same ``Inventory`` for the same system (tests prove it), made of the facts in ``model``;
every fact carries its ``Evidence`` (source, line, raw text, digest of the whole source). Failures are
``GatherError`` with a status and a reason in Chinese and English; a parse error names the file and line.
"""
