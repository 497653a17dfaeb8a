import sys

from netexplorer.cli import main

sys.exit(main())
