"""Let's Encrypt through certbot: the domain must be a public name the certificate authority can reach, and the contact
address one it accepts (it refuses reserved domains such as example.org)."""

import ipaddress

# Names reserved for examples, tests and local or private networks: no certificate authority issues a certificate for
# them, nor accepts a mailbox there. RFC 2606 and 6761 (example.*, .example, .test, .invalid, .localhost), RFC 6762
# (.local), RFC 7686 (.onion), RFC 8375 (home.arpa), RFC 9476 (.alt), and .internal (ICANN, 2024).
RESERVED_DOMAINS = ("example.com", "example.net", "example.org", "home.arpa")
RESERVED_SUFFIXES = ("example", "test", "invalid", "localhost", "local", "onion", "alt", "internal")


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
    if is_reserved(domain):
        yield (
            "domain_name: tls=certbot needs a public domain name that resolves to this server; a single label, an IP"
            " address or a name reserved for examples, tests or local networks (RFC 2606, 6761: example.org, *.test,"
            f" *.localhost, *.local, ...) can never get a certificate (got {domain!r})"
        )
    email = answers["author_email"]
    if is_reserved(email.rpartition("@")[2]):
        yield (
            "author_email: tls=certbot gives it to Let's Encrypt as the contact address, which must be a real mailbox:"
            f" not localhost, an IP address or a reserved domain such as example.org (got {email!r})"
        )
