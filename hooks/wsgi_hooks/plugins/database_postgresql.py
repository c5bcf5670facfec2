"""PostgreSQL: deploy/install.sh creates the role and the database; the password is generated into .env and can be
rotated (manage.py init-config --rotate-database-password).
"""
