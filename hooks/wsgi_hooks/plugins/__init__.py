"""One module per option value: ``<question>_<value>.py``. See wsgi_hooks.plugin_api for the functions they offer."""
