"""Values: what users declare and runs return (policies, results, usage), cache keys, docs,
alerts, executors, prices. They import only foundations and never call up into a service."""
