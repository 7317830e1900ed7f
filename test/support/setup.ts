// Tests never read a developer's real data directory or secrets.
process.env.WAYPOST_LOG_LEVEL ??= "silent";
