"""The web side (SPEC §12): public pages and the Telegram Mini App, served by the bot's
process on the same services and database as the chat. See `app.create_web_app`."""
