"""The 41 official registers (表1–表41) of the CSRC custody-handover guideline, defined as data."""
