import sys

from . import main

__all__: list = []

sys.exit(main())
