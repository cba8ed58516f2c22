"""``python -m crmml.cli``."""

import sys

from crmml.cli import main

if __name__ == "__main__":  # pragma: no cover - importing this module (doctest discovery) runs nothing
    sys.exit(main())
