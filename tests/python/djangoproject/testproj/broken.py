"""A module whose import fails, as an app's does after a bad deploy."""

import testproj.does_not_exist  # noqa: F401
