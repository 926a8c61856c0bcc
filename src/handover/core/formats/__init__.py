"""Django's per-language formats (settings FORMAT_MODULE_PATH): one way to show time in both languages."""
