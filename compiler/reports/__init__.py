"""What the commands that report print: explain, status, diff and rollout status, built from the decision
record and the plans as plain data (the JSON forms), with text forms made from the same data."""
