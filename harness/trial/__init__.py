"""One trial: a device taken through one update, maybe with a power cut, and
judged (run.py); the evidence behind every verdict (verdict.py); cut specs
(cutspec.py); a trial's console logs (runlogs.py)."""
