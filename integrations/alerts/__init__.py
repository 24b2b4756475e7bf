"""Alert channels (issue 16): Telegram Bot API and e-mail. Plain data in, typed integration errors out; no app
imports."""
