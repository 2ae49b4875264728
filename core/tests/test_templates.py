"""Prompt templates: a registry, a static prefix marked for prompt caching, savings measured."""

from __future__ import annotations

import pytest

import podium


def test_a_template_renders_its_body_and_marks_its_prefix_for_prompt_caching() -> None:
    template = podium.PromptTemplate("review", prefix="You review code.", body="Patch: {patch} ({ticket.id})")

    class Ticket:
        id = 7

    prompt = template.render(patch="+1 line", ticket=Ticket())
    assert prompt == podium.Prompt("Patch: +1 line (7)", system="You review code.", cache_system=True)
    assert template.fields == ("patch", "ticket")


def test_a_missing_field_names_the_template_and_its_fields() -> None:
    template = podium.PromptTemplate("review", prefix="p", body="{patch} {ticket}")
    with pytest.raises(
        podium.TemplateError, match=r"template 'review': no value for 'ticket' \(its fields: patch, ticket\)"
    ):
        template.render(patch="x")


async def test_templates_come_from_configuration_and_code_and_unknown_names_say_the_closest() -> None:
    config = podium.Config({"templates": {"summary": {"prefix": "Summarize.", "body": "{text}"}}})
    wf = podium.Workflow("t", strategy="sequential")

    @wf.stage
    async def look(ctx: podium.Context) -> str:
        ctx.template("review")
        try:
            ctx.template("sumary")
        except podium.TemplateError as error:
            return str(error)
        return "found"

    review = podium.PromptTemplate("review", prefix="Review.")
    async with podium.Engine(config=config, templates=[review], cache_url=False) as engine:
        result = await engine.run(wf)
    assert result["look"].value == (
        "no template named 'sumary' (did you mean 'summary'?); known templates: review, summary"
    )


async def test_the_tokens_a_template_prefix_saves_are_the_providers_cache_reads() -> None:
    template = podium.PromptTemplate("review", prefix="Instructions. " * 50, body="{patch}")
    wf = podium.Workflow("t", strategy="sequential")

    @wf.stage
    async def calls(ctx: podium.Context) -> None:
        for patch in ("a", "b", "c"):
            await ctx.agent("reviewer").complete(ctx.template("review").render(patch=patch))

    agents = {"reviewer": podium.SimulatedAgent("ok")}
    async with podium.Engine(
        config=podium.Config(), agents=agents, templates=[template], cache_url=False
    ) as engine:
        result = await engine.run(wf)
    prefix_tokens = len(template.prefix) // 4
    assert result.usage.cache_write_tokens == prefix_tokens
    assert result.usage.cache_read_tokens == 2 * prefix_tokens


def test_a_bad_template_table_fails_with_its_path() -> None:
    with pytest.raises(
        podium.ConfigError, match=r"required field missing @ config\.templates\['review'\]\.prefix"
    ):
        podium.Config({"templates": {"review": {"body": "{x}"}}})
