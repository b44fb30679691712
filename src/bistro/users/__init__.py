"""Users, sign-in tokens and the admin user routes."""
