"""Why a community's collection cannot be made, as its admin is told: msgids (`N_`), raised as
`RequestRejected`/`NotAllowed` with their values, so `err.text()` says them in the admin's
language and `str(err)` in English."""

from __future__ import annotations

from bot.i18n import N_

BAD_SYMBOL = N_("The symbol must be 1 to 11 letters or digits, like ART.")
ROYALTY_RANGE = N_("Royalties go from 0 to {percent} % ({bps} basis points).")
OWNER_UNVERIFIED = N_(
    "The collection's owner and royalty receiver is your own verified address: "
    "link one with /wallet link, sign the message, then /wallet verify."
)
NO_FACTORY = N_(
    "Community collections are not set up on this chain yet: the operator runs "
    "`python -m bot deploy --factory` to deploy the factory."
)
NO_OPERATOR_ADMIN = N_(
    "Community collections need the operator's admin address (ADMIN_ADDRESS), "
    "which keeps an admin role on each until it is handed over."
)
