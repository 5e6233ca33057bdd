"""``python -m tagger``: what the installed ``tagger`` script runs."""

from tagger.cli.app import console

console()
