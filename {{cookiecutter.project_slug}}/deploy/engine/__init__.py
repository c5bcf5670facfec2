"""The deploy of {{ cookiecutter.project_name }} on pyinfra: plan.py lists its phases; one module per option value."""
