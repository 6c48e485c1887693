"""Holders: what members hold of a collection (on their verified address, and in the bot's
custody for them), the holder gate's and holder roles' one measure of it, and the roles and
chat admissions that follow it."""
