import sys

from benchy.cli import main

sys.exit(main())
