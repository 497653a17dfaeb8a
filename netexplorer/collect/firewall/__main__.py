"""``python -m netexplorer.collect.firewall``: print the collected firewall as JSON.

Handy inside a network namespace: ``ip netns exec NS python -m netexplorer.collect.firewall``.
Exit status 1 (and the message on stderr) if no backend could be read.
"""

from __future__ import annotations

import json
import sys

from netexplorer.collect.errors import SourceError
from netexplorer.collect.firewall import collect_firewall
from netexplorer.model import as_plain


def main() -> int:
    try:
        data = collect_firewall()
    except SourceError as err:
        print(str(err), file=sys.stderr)
        return 1
    json.dump(as_plain(data), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
