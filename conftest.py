# Repository-wide pytest setup: the harness package and its device fixtures.
pytest_plugins = ["harness.fixtures"]
