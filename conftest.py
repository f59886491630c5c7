# Repository-wide pytest setup: the harness package's device fixtures and the
# campaign plugin (its tests are made only from a plan: --brownout-plan).
pytest_plugins = ["harness.fixtures", "harness.campaign.pytest_plugin"]
