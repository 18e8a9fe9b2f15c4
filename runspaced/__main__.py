import sys

from runspaced.cli import main

sys.exit(main())
