"""What every step of every flow does with input it did not ask for (SPEC §11).

A command in the middle of a step, a stale or forged button, a photo where text was
expected: each gets a clear answer, and the step's question is asked again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import BotContext, translator
from bot.handlers.common import (
    QUESTION_KEY,
    answer,
    checkpoint,
    forget_flow_questions,
    is_flow_question,
    retire_question,
    send,
)
from bot.menu import CommandRegistry, MenuLabel

Ask = Callable[[Update, BotContext], Awaitable[object]]
Step = Callable[[Update, BotContext], Coroutine[Any, Any, Any]]
StillAllowed = Callable[[Update, BotContext], Awaitable[bool]]
StepHandler = BaseHandler[Update, BotContext, object]


def role_checked(still_allowed: StillAllowed, step: Step) -> Step:
    """A step of an official's flow runs only while the role still holds: it may have been
    revoked since the flow began, or the flow entered by a forged button. `still_allowed`
    audits and answers a refusal; the flow then ends."""

    async def checked(update: Update, context: BotContext) -> Any:
        if not await still_allowed(update, context):
            return ConversationHandler.END
        return await step(update, context)

    return checked


def stale_button_of(ask: Ask) -> Callable[[Update, BotContext], Coroutine[Any, Any, None]]:
    async def stale_button(update: Update, context: BotContext) -> None:
        t = await translator(update, context)
        await answer(update)
        await send(
            update, context, t.gettext("That button is out of date. Here is the current question.")
        )
        await ask(update, context)

    return stale_button


def on_flow_question(
    navigate: Callable[[Update, BotContext], Coroutine[Any, Any, object]], ask: Ask
) -> Callable[[Update, BotContext], Coroutine[Any, Any, object]]:
    """Back or Cancel, taken from this flow's questions only (`is_flow_question`): answered
    questions may keep theirs, and one from an earlier flow must not move this one."""
    stale_button = stale_button_of(ask)

    async def checked(update: Update, context: BotContext) -> object:
        if not is_flow_question(update, context):
            await stale_button(update, context)
            return None  # the step stays as it was
        return await navigate(update, context)

    return checked


def guarded(
    handlers: list[StepHandler],
    ask: Ask,
    flow_name: str,
    cancel: Callable[[Update, BotContext], Coroutine[Any, Any, object]],
    registry: CommandRegistry,
) -> list[StepHandler]:
    """The step's own handlers, then catch-alls that explain and re-ask."""

    async def command_in_flow(update: Update, context: BotContext) -> None:
        t = await translator(update, context)
        await send(
            update,
            context,
            t.gettext(
                "You are in the middle of %(flow)s. Answer the question below, or send /cancel"
                " to stop."
            )
            % {"flow": t.gettext(flow_name)},
        )
        await ask(update, context)

    stale_button = stale_button_of(ask)

    async def unexpected(update: Update, context: BotContext) -> None:
        t = await translator(update, context)
        await send(
            update, context, t.gettext("I can't use that here. Please answer the question below.")
        )
        await ask(update, context)

    def answered_in_place(name: str) -> Callable[[Update, BotContext], Coroutine[Any, Any, object]]:
        """/help and /menu answer mid-step and leave the step as it was."""

        async def handle(update: Update, context: BotContext) -> object:
            command = registry.get(name)
            if command is not None:
                await command.callback(update, context)
            t = await translator(update, context)
            await send(
                update,
                context,
                t.gettext(
                    "You are still in the middle of %(flow)s: answer the question above, or send"
                    " /cancel to stop."
                )
                % {"flow": t.gettext(flow_name)},
            )
            return None  # the step stays as it was

        return handle

    async def menu_button_in_flow(update: Update, context: BotContext) -> None:
        await answer(update)
        await command_in_flow(update, context)

    in_place: list[StepHandler] = [
        handler
        for name in ("help", "menu")
        for handler in (
            CommandHandler(name, answered_in_place(name)),
            MessageHandler(MenuLabel(registry, name), answered_in_place(name)),
        )
    ]
    return [
        CommandHandler("cancel", cancel),
        *in_place,
        MessageHandler(MenuLabel(registry), command_in_flow),
        *handlers,
        MessageHandler(filters.COMMAND, command_in_flow),
        CallbackQueryHandler(menu_button_in_flow, pattern=r"^menu:"),
        CallbackQueryHandler(stale_button),
        MessageHandler(filters.ALL, unexpected),
    ]


def guided_steps(
    prefix: str,
    back: Callable[[Update, BotContext], Coroutine[Any, Any, object]] | None,
    cancel: Callable[[Update, BotContext], Coroutine[Any, Any, object]],
    ask: Ask,
    flow_name: str,
    registry: CommandRegistry,
    lasting: bool = False,
) -> Callable[..., list[StepHandler]]:
    """The step factory of a guided flow: every step answers `<prefix>:cancel` (and
    `<prefix>:back`, given `back`), then its own handlers, then the guards above.
    `lasting`: the flow asks questions that keep Back and Cancel once answered by typing
    (`ask(lasting=True)`); those buttons are then taken from the flow's questions only."""

    def navigate(
        step: Callable[[Update, BotContext], Coroutine[Any, Any, object]],
    ) -> Callable[[Update, BotContext], Coroutine[Any, Any, object]]:
        return on_flow_question(step, ask) if lasting else step

    navigation: list[StepHandler] = [
        CallbackQueryHandler(navigate(cancel), pattern=rf"^{prefix}:cancel$")
    ]
    if back is not None:
        navigation.insert(0, CallbackQueryHandler(navigate(back), pattern=rf"^{prefix}:back$"))

    def step(*own: StepHandler) -> list[StepHandler]:
        return guarded(
            [*navigation, *own],
            ask,
            flow_name,
            cancel,
            registry,
        )

    return step


async def end_flow(
    update: Update,
    context: BotContext,
    draft_key: str,
    conversation: str,
    *,
    edited_next: bool = False,
) -> int:
    """Leave a guided flow: forget its draft, take the buttons off its question, and save the
    end at once so a crash cannot bring the flow back. `edited_next`: the caller edits the
    question into what comes next (a receipt, say), which replaces its buttons in that one
    Bot API call."""
    context.udata.pop(draft_key, None)
    forget_flow_questions(context)  # first: the last question loses its buttons too
    if edited_next:
        context.udata.pop(QUESTION_KEY, None)
    else:
        await retire_question(update, context)
    await checkpoint(update, context, (conversation, None))
    return ConversationHandler.END


async def discard_flow(
    update: Update, context: BotContext, draft_key: str, conversation: str, message: str
) -> int:
    """Cancel: end the flow and say what was discarded (`message` marked with N_)."""
    await answer(update)
    t = await translator(update, context)
    await end_flow(update, context, draft_key, conversation)
    await send(update, context, t.gettext(message))
    return ConversationHandler.END


def flow(
    *,
    name: str,
    entry_points: list[StepHandler],
    states: dict[object, list[StepHandler]],
) -> ConversationHandler[BotContext]:
    """A conversation as all of ours are: persisted under `name` (so it survives a restart),
    re-entered by its entry points, and with every stray input handled by `guarded` steps."""
    return ConversationHandler(
        entry_points=entry_points,
        states=states,
        fallbacks=[],
        name=name,
        persistent=True,
        allow_reentry=True,
    )
