"""The admin dashboard: a community's pages for its admins, reached through a sign-in link an
admin command gives (`links`), a session per admin (`sessions`), the pages and their actions
(`pages`), what they read (`queries`) and their charts (`charts`)."""
