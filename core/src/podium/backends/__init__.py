"""The built-in cache backends, one module each (memory, sqlite, redis, memcached), and
opening them by URL (urls). Reached only from the built-in plugins and the command line;
the running layer sees a backend only through the contract (podium.contract.cache_backend)."""
