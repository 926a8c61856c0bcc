"""The demo engagement, composing the apps in order (org, vault, registers, workflow): ``handover demo``."""
