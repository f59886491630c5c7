# Repository-wide pytest setup: the harness package's device fixtures and the
# campaign plugin (its tests are made only from a plan: --brownout-plan), and the
# order the tests run in over xdist workers.
pytest_plugins = ["harness.fixtures", "harness.campaign.pytest_plugin", "harness.schedule"]
