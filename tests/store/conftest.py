"""The store tests use the shared ``store_url`` / ``store`` / ``pg_empty_url`` fixtures of tests/conftest.py."""
