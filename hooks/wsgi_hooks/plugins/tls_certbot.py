"""Let's Encrypt through certbot: the domain must be a public name the certificate authority can reach, and the contact
address one it accepts (it refuses reserved domains such as example.org)."""

import ipaddress

# Names reserved for examples and local use (RFC 2606, RFC 6761, RFC 6762): never a public site or a mailbox.
RESERVED_DOMAINS = ("example.com", "example.net", "example.org")
RESERVED_SUFFIXES = ("example", "test", "invalid", "localhost", "local")


def is_ip_address(name):
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def is_reserved(domain):
    domain = domain.lower().rstrip(".")
    labels = domain.split(".")
    return (
        len(labels) < 2
        or labels[-1] in RESERVED_SUFFIXES
        or any(domain == reserved or domain.endswith("." + reserved) for reserved in RESERVED_DOMAINS)
        or is_ip_address(domain)
    )


def validate(answers):
    domain = answers["domain_name"]
    if "." not in domain or domain.endswith(".localhost") or is_ip_address(domain):
        yield f"domain_name: tls=certbot needs a public domain name such as lab.example.org (got {domain!r})"
    email = answers["author_email"]
    if is_reserved(email.rpartition("@")[2]):
        yield (
            "author_email: tls=certbot gives it to Let's Encrypt as the contact address, which must be a real mailbox:"
            f" not localhost, an IP address or a reserved domain such as example.org (got {email!r})"
        )
