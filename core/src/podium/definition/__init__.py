"""Definition: workflows and their stages, the validated plan, strategies, configuration,
and loading workflows from files."""
