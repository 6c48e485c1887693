"""Signed webhooks: events recorded in a database outbox with the state change they report
(`outbox`), posted by a background worker signed the Standard Webhooks way (`signing`,
`delivery`) to endpoints that admins add per community or the operator lists in WEBHOOK_URLS
(`endpoints`), never to an address inside the bot's own network (`targets`)."""
