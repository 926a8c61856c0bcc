from tests.demo_db import _demo_for_module, demo  # noqa: F401 - fixtures
