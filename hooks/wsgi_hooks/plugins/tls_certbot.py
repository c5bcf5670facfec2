"""Let's Encrypt through certbot: the domain must be a public name the certificate authority can reach."""

import ipaddress


def is_ip_address(name):
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def validate(answers):
    domain = answers["domain_name"]
    if "." not in domain or domain.endswith(".localhost") or is_ip_address(domain):
        yield f"domain_name: tls=certbot needs a public domain name such as lab.example.org (got {domain!r})"
