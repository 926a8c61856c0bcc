"""Handover (托管交接平台): the custodian technical group's system for a CSRC custody handover."""

__version__ = "0.1.0"
