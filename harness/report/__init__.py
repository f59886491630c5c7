"""What a journal becomes: the HTML report (html.py) and its plots (plots.py),
the evidence bundle for an assessor (evidence.py), the generated results page
(results.py)."""
