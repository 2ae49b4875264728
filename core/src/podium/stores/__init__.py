"""Run stores: where runs, their stage visits, agent calls and alerts are kept (SQLite built in)."""
