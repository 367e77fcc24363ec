"""tests/workers: the shared harness's asserts report their values, as a test's own do."""

import pytest

# Only test modules and conftest files are rewritten unless a helper is registered
# before its first import (pytest docs, "Assertion rewriting").
pytest.register_assert_rewrite("converter_harness")
