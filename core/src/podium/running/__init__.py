"""Running: one run's live state, the scheduling loop, the stage path, contexts, agents,
lifecycle events and the result cache."""
