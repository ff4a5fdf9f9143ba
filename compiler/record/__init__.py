"""The decision record: what a compile decided, as one value (decisions.py); its serialisation, easel.lock
(lockfile.py); and what changed between two records (changes.py). Decide produces it; the reports read it."""
