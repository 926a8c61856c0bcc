"""Discovery, the Django side: targets, gathering runs, stored inventories and facts, the review's findings,
and what they draft in the registers (第二十二条, 第二十六条第2、3项). The engine is ``handover.connectors``."""
