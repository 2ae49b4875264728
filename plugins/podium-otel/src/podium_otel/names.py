"""Attribute names used on spans and metrics (the docs list them; dashboards query them).

GenAI names follow the current OpenTelemetry semantic conventions, written as literals
because the Python constants for them are deprecated aliases.
"""

from __future__ import annotations

WORKFLOW = "podium.workflow.name"
STRATEGY = "podium.workflow.strategy"
RUN_ID = "podium.run.id"
RUN_STATUS = "podium.run.status"
STAGE = "podium.stage.name"
STAGE_STATUS = "podium.stage.status"
STAGE_VISIT = "podium.stage.visit"
STAGE_ITEM = "podium.stage.item"
STAGE_ITEMS = "podium.stage.items"
STAGE_FAILED_ITEMS = "podium.stage.failed_items"
STAGE_ATTEMPTS = "podium.stage.attempts"
STAGE_CACHE_HIT = "podium.stage.cache_hit"
STAGE_SKIP_REASON = "podium.stage.skip_reason"
STAGE_REASON = "podium.stage.reason"
STAGE_ROUTE = "podium.stage.route"
STAGE_ROUTE_SKIPPED = "podium.stage.route_skipped"
STAGE_FALLBACK = "podium.stage.fallback"
RETRY_ATTEMPT = "podium.retry.attempt"
RETRY_DELAY = "podium.retry.delay_s"
INPUT_TOKENS = "podium.usage.input_tokens"
OUTPUT_TOKENS = "podium.usage.output_tokens"
COST = "podium.usage.cost_usd"
SAVED_COST = "podium.usage.saved_cost_usd"
AGENT = "podium.agent.name"
CACHE_KIND = "podium.cache.kind"
DOCS_LIBRARIES = "podium.docs.libraries"
DOCS_BUDGET = "podium.docs.token_budget"
DOCS_TOKENS = "podium.docs.tokens"
DOCS_REQUESTS_MADE = "podium.docs.requests_made"
DOCS_REQUESTS_AVOIDED = "podium.docs.requests_avoided"
DOCS_TOKENS_CUT = "podium.docs.tokens_cut"
DOCS_FAILED = "podium.docs.failed_libraries"
DOCS_QUERY = "podium.docs.query"
DOCS_OUTCOME = "podium.docs.outcome"
ALERT = "podium.alert.name"
ALERT_SEVERITY = "podium.alert.severity"
TOKEN_TYPE = "gen_ai.token.type"
ERROR_TYPE = "error.type"

GEN_AI_OPERATION = "gen_ai.operation.name"
GEN_AI_PROVIDER = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_CACHE_WRITE_TOKENS = "gen_ai.usage.cache_write.input_tokens"
GEN_AI_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"

#: Request options copied onto agent spans (numbers and stop sequences, never content).
GEN_AI_REQUEST_OPTIONS = {
    "max_tokens": "gen_ai.request.max_tokens",
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "top_k": "gen_ai.request.top_k",
    "stop_sequences": "gen_ai.request.stop_sequences",
}
