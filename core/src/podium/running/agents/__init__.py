"""Agents: the protocol, the simulated provider, and the policies around every call.

One module per concern: :mod:`.protocol` (what an agent is and answers),
:mod:`.simulated` (the built-in provider), :mod:`.windows` and :mod:`.limiter` (rate
limits), :mod:`.breaker`, :mod:`.pool`, :mod:`.managed` (the layers of a call) and
:mod:`.registry` (the agents an engine knows, and a stage's handle on one).
"""

from podium.running.agents.protocol import Agent, AgentCall, AgentReply, ProviderFactory
from podium.running.agents.registry import AgentRegistry, BoundAgent
from podium.running.agents.simulated import SimulatedAgent, SimulatedQuota

__all__ = [
    "Agent",
    "AgentCall",
    "AgentRegistry",
    "AgentReply",
    "BoundAgent",
    "ProviderFactory",
    "SimulatedAgent",
    "SimulatedQuota",
]
