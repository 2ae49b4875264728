"""Cache backends by URL (memory, SQLite, Redis, memcached). Reached only from the built-in
plugins and the command line; the running layer sees them through the cache contract."""
