"""``python -m tagger``."""

from tagger.cli.app import main

main()
