"""`python -m notifier.demo [--host 127.0.0.1] [--port 8000] [--dir var/demo]`: `make demo`.

Starts the whole service against a simulated AWS on loopback, with a built-in inbox; Ctrl-C
stops all of it. notifier/demo/launcher.py says how.
"""

from __future__ import annotations

import sys

from notifier.demo.launcher import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
