"""`reconciler agent`: the long-running reconciler (loop, git clone, log, metrics)."""
