import sys

from lean_install.cli import main

sys.exit(main())
