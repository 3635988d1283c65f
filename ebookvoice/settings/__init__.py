"""Settings profiles: ``base`` (the embedded default), ``test`` and ``production``."""
