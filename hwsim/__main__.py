import sys

from .cli import main

__all__: list = []

sys.exit(main())
