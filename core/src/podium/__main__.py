"""``python -m podium``: the command line, where the ``podium`` script is not on PATH."""

from podium.cli.main import main

main(prog_name="podium")
