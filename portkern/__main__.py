import sys

from portkern.cli import main

sys.exit(main())
