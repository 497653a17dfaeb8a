"""Record the Docker API answers netexplorer reads, for the unit tests.

Run as root on the lab (scripts/lab up):  python tests/recorded/docker/record.py NAME
Writes tests/recorded/docker/NAME.json: networks(), containers(all=True) and the
inspect answer of each running container, exactly as the daemon gave them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import docker


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "lab"
    api = docker.from_env().api
    containers = api.containers(all=True)
    doc = {
        "version": api.version(),
        "networks": api.networks(),
        "containers": containers,
        "inspect": {
            c["Id"]: api.inspect_container(c["Id"]) for c in containers if c["State"] == "running"
        },
    }
    out = Path(__file__).with_name(f"{name}.json")
    out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(out)


if __name__ == "__main__":
    main()
