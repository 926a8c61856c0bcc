"""Settings packages: ``local`` (the laptop default), ``production`` and ``test``; all read the environment."""
