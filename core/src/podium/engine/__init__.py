"""Engine: the object that owns plugins, registries and the cache, and starts runs; and the
built-in behaviour written as ordinary plugins (``defaults/``)."""
