"""Cross-cutting pieces every feature uses: settings, database, cache, errors, auth."""
