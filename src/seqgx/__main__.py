import sys

from seqgx.cli import main

sys.exit(main())
