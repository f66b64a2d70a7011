import sys

from kb_server.cli.main import main

sys.exit(main())
