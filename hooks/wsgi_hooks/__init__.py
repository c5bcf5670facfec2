"""Hook code shared by cookiecutter's hooks and copier's tasks: a small core plus one plugin module per option value."""
