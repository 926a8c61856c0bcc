"""Reads of security management, one module per part; each takes the user and refuses one without
``view_risk`` in the engagement (these records are engagement-wide: a role at any site reads them)."""
