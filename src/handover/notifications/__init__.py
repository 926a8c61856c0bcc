"""Telling people what happened: in-app messages by default, email and webhooks by subscription; any app may
notify (``services.notify``) and registers its topics (``topics.register``)."""
