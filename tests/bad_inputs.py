"""Answers the template must refuse: (answers, the message that must name the field and the rule)."""

# fmt: off
RESERVED_NAMES = ("example.org", "lab.example.org", "example.com", "www.example.net", "app.test", "lab.example",
                  "x.invalid", "qc.localhost", "eeg.local", "lab.internal", "nas.home.arpa", "x.onion", "x.alt")
# fmt: on
RESERVED_RULE = (
    "domain_name: tls=certbot needs a public domain name that resolves to this server; a single label, an IP address or"
    " a name reserved for examples, tests or local networks (RFC 2606, 6761: example.org, *.test, *.localhost,"
    " *.local, ...) can never get a certificate (got "
)

BAD_INPUTS = [
    ({"project_name": 'Say "hi"'}, "project_name: must not contain double quotes"),
    ({"project_name": " ", "project_slug": "lab"}, "project_name: must not be empty"),
    ({"author_name": "Ada\\Lovelace"}, "author_name: must not contain double quotes, backslashes"),
    ({"project_slug": "My App"}, "project_slug: must be 1-31 lowercase letters"),
    ({"project_slug": "-app"}, "project_slug: must be 1-31 lowercase letters"),
    ({"project_slug": "app--x"}, "project_slug: must be 1-31 lowercase letters"),
    ({"project_slug": "a" * 32}, "project_slug: must be 1-31 lowercase letters"),
    ({"project_name": "研究室"}, "project_slug: cannot be derived from project_name"),
    ({"project_name": "A " * 150}, "project_name: must be at most 50 columns wide"),
    ({"project_name": "EEG\u00a0Lab"}, "project_name: must not contain spaces other than the plain one"),
    ({"description": "QC\u200b tool"}, "description: must not contain spaces other than the plain one"),
    ({"project_name": "研究室" * 9}, "project_name: must be at most 50 columns wide"),
    ({"project_name": "!!! ???"}, "project_slug: cannot be derived from project_name"),
    ({"project_name": "2048 Game"}, "project_slug: must be 1-31 lowercase letters"),
    ({"project_slug": "nginx"}, "project_slug: 'nginx' is the name of a system service"),
    ({"package_name": "flask"}, "package_name: 'flask' would shadow"),
    ({"package_name": "django"}, "package_name: 'django' would shadow"),
    ({"package_name": "test"}, "package_name: 'test' would shadow"),
    ({"package_name": "site"}, "package_name: 'site' would shadow"),
    ({"package_name": "wsgi"}, "package_name: 'wsgi' would shadow"),
    ({"package_name": "class"}, "package_name: must be a lowercase Python identifier"),
    ({"package_name": "1app"}, "package_name: must be a lowercase Python identifier"),
    ({"package_name": "My_App"}, "package_name: must be a lowercase Python identifier"),
    ({"author_email": "nobody"}, "author_email: must look like name@example.org"),
    ({"domain_name": "Lab.Example.org"}, "domain_name: must be a lowercase host name"),
    ({"domain_name": "bad_name.org"}, "domain_name: must be a lowercase host name"),
    ({"domain_name": "a..b"}, "domain_name: must be a lowercase host name"),
    ({"domain_name": "-lab.org"}, "domain_name: must be a lowercase host name"),
    ({"url_prefix": "eegqc"}, "url_prefix: must be / or an absolute path"),
    ({"url_prefix": "/eeg qc"}, "url_prefix: must be / or an absolute path"),
    ({"url_prefix": "/a/../b"}, "url_prefix: must be / or an absolute path"),
    ({"url_prefix": "//x"}, "url_prefix: must be / or an absolute path"),
    ({"url_prefix": "/a//b"}, "url_prefix: must be / or an absolute path"),
    ({"url_prefix": "/x?y=1"}, "url_prefix: must be / or an absolute path"),
    ({"url_prefix": "/x#top"}, "url_prefix: must be / or an absolute path"),
    ({"url_prefix": "/x%20y"}, "url_prefix: must be / or an absolute path"),
    ({"port": "80"}, "port: must be a whole number from 1024 to 65535"),
    ({"port": "70000"}, "port: must be a whole number from 1024 to 65535"),
    ({"port": "http"}, "port: must be a whole number from 1024 to 65535"),
    ({"port": "\uff11\uff10\uff12\uff14", "bind": "tcp"}, "port: must be a whole number from 1024 to 65535"),
    ({"port": "\u0661\u0660\u0662\u0664"}, "port: must be a whole number from 1024 to 65535"),
    ({"request_timeout": "1"}, "request_timeout: must be a whole number of seconds from 2 to 600"),
    ({"request_timeout": "30s"}, "request_timeout: must be a whole number of seconds from 2 to 600"),
    ({"max_body_mb": "0"}, "max_body_mb: must be a whole number of megabytes from 1 to 1024"),
    ({"max_body_mb": "1025"}, "max_body_mb: must be a whole number of megabytes from 1 to 1024"),
    ({"max_body_mb": "16m"}, "max_body_mb: must be a whole number of megabytes from 1 to 1024"),
    ({"max_body_mb": "\uff11\uff16"}, "max_body_mb: must be a whole number of megabytes from 1 to 1024"),
    ({"cors_origins": "viewer.example.org"}, "cors_origins: must be empty, * alone, or origins"),
    ({"cors_origins": "https://viewer.example.org/"}, "cors_origins: must be empty, * alone, or origins"),
    ({"cors_origins": "* https://viewer.example.org"}, "cors_origins: must be empty, * alone, or origins"),
    ({"cors_paths": "/api"}, "cors_paths: must be paths under the prefix"),
    ({"cors_paths": "/media/x/"}, "cors_paths: must be paths under the prefix"),
    ({"cors_paths": "/api/ /api/"}, "cors_paths: must be paths under the prefix"),
    ({"cors_origins": "*", "cors_paths": ""}, "cors_paths: must name at least one path when cors_origins is set"),
    ({"proxy": "none", "bind": "tcp", "cors_origins": "*"}, "cors_origins: the proxy sends the CORS headers"),
    ({"backup_schedule": "dayly"}, "backup_schedule: must be one of hourly, daily, weekly, monthly"),
    ({"backup_schedule": "*-*-* 03:00"}, "backup_schedule: must be one of hourly, daily, weekly, monthly"),
    ({"proxy": "none", "bind": "unix"}, "bind: 'unix' needs a proxy"),
    ({"websockets": "channels"}, "websockets: 'channels' is Django Channels, for framework=django only"),
    ({"websockets": "channels", "framework": "dash"}, "websockets: 'channels' is Django Channels"),
    (
        {"websockets": "channels", "framework": "django", "proxy": "none", "bind": "tcp"},
        "websockets: 'channels' needs a proxy",
    ),
    ({"websockets": "channels", "framework": "django", "bind": "tcp"}, "websockets: Daphne listens on a unix socket"),
    (
        {"websockets": "channels", "framework": "django", "cors_origins": "*", "cors_paths": "/api/ /ws/"},
        "cors_paths: <prefix>/ws/ is Daphne's",
    ),
    ({"proxy": "none", "bind": "tcp", "tls": "certificate"}, "tls: HTTPS is terminated by the proxy"),
    ({"tls": "certbot"}, "domain_name: tls=certbot needs a public domain name"),
    ({"tls": "certbot", "domain_name": "127.0.0.1"}, "domain_name: tls=certbot needs a public domain name"),
    # Reserved and special-use names (RFC 2606, 6761, 6762, 7686, 8375, 9476; .internal): never a certificate.
    *(
        (
            {"tls": "certbot", "domain_name": domain, "author_email": "webmaster@eeg-lab.org"},
            RESERVED_RULE + repr(domain),
        )
        for domain in RESERVED_NAMES
    ),
    ({"tls": "certbot", "domain_name": "qc.eeg-lab.org"}, "author_email: tls=certbot gives it to Let's Encrypt"),
    ({"tls": "certbot", "domain_name": "qc.eeg-lab.org", "author_email": "me@lab.test"}, "author_email: tls=certbot"),
    ({"tls": "certbot", "domain_name": "qc.eeg-lab.org", "author_email": "me@10.0.0.1"}, "author_email: tls=certbot"),
]

# Accepted although unusual: the prefix's trailing slash is normalised away, not rejected.
GOOD_INPUTS = [
    {"url_prefix": "/eegqc/"},
    {"url_prefix": "/lab/eeg-qc_2.1~x"},
    {"domain_name": "qc.eeg-lab.org", "tls": "certbot", "author_email": "webmaster@eeg-lab.org"},
    {"domain_name": "lab.example.org", "tls": "certificate"},  # your own certificate: any name you have one for
    {"author_email": "me@10.0.0.1"},
    {"domain_name": "192.168.10.5"},
    {"port": "1024"},
    {"request_timeout": "2"},
    {"request_timeout": "600"},
    {"max_body_mb": "1"},
    {"max_body_mb": "1024"},
    {"cors_origins": "*"},
    {"cors_origins": "https://viewer.example.org http://localhost:8080", "cors_paths": "/ /api/v1/ /static/"},
    {"cors_origins": "", "cors_paths": ""},
    {"port": "65535"},
    {"task_queue": "celery", "supervisor": "none", "framework": "dash"},
    {"websockets": "channels", "framework": "django", "supervisor": "none", "url_prefix": "/eegqc"},
    {"project_name": "Café Tool", "project_slug": "cafe-tool"},
    {"project_name": "Études Lab Tööl"},
    {"project_name": "研究室", "project_slug": "lab"},
    {"project_name": "A long project name, well past the slug's 31 chars"},
]
