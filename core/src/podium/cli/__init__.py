"""The ``podium`` command line (a face: it imports from every layer, nothing imports it)."""
