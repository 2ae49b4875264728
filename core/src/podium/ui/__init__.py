"""The local dashboard (``podium ui``): runs, a run's live report, KPIs, alerts, agents.

A face like the command line. It needs the ``ui`` extra (``pip install 'podium[ui]'``:
Starlette and uvicorn); only the modules in this folder import them.
"""
