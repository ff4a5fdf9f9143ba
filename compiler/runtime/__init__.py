"""How easel runs, apart from what it computes: its own folder in a repository (state.py), the cache of parsed
documents and replayed runs (cache.py), half of a large job in a second process (parallel.py) and the progress bar
(progress.py). Only the command layer and the reading and writing stages use it: the pure stages never do."""
