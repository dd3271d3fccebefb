"""`python -m homeport.cli`: the same as the `platform` console script."""

import sys

from homeport.cli.main import main

sys.exit(main())
