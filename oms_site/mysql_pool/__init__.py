"""Django's MySQL/MariaDB backend with a per-process pool of open connections."""
