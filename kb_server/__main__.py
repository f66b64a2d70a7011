import sys

from kb_server.cli import main

sys.exit(main())
