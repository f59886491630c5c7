"""Campaigns: recording a method's cut points and planning trials over them
(runner.py), the pytest plugin that runs the planned trials (pytest_plugin.py),
and the journal every trial's verdict is written to and read from (journal.py)."""
