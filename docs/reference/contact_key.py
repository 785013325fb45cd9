#!/usr/bin/env python3
"""The `by-contact` index key of a WhatsApp number, as flowiq-webhooks writes it (src/contact_key.rs).

    contact_pk = "CONTACT#<organization_id>#wah:" + unpadded URL-safe base64 of the first 16 bytes of
                 HMAC-SHA256(key = the contact key's UTF-8 bytes, message = "<organization_id>#<number>")

The number is FlowIQ's `whatsapp_id`: digits, no "+" (a leading "+" given here is dropped, as
`flowiq-events --contact` does). A test runs this file against the Rust code
(tests/checks/contact_key.rs). Python 3.9+, standard library only.

The contact key is read from the environment, never from the command line: CONTACT_KEY_FILE (a file
whose first line is the key) or CONTACT_KEY (the key). With the stack's secret
(output ContactKeySecretArn):

    (umask 077; aws secretsmanager get-secret-value --secret-id "$ARN" \\
        --query SecretString --output text > contact-key.txt)
    CONTACT_KEY_FILE=contact-key.txt python3 docs/reference/contact_key.py <organization_id> < numbers.txt

Numbers on stdin, one a line; out on stdout: one contact_pk a line, in the same order. Numbers
are read from stdin so that they stay out of shell history and the process list.
"""
import base64
import hashlib
import hmac
import os
import sys

MIN_KEY_LENGTH = 32
DIGEST_BYTES = 16


def contact_key():
    path = os.environ.get("CONTACT_KEY_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as file:
                key = file.readline().rstrip("\r\n")
        except OSError as error:
            sys.exit(f"cannot read CONTACT_KEY_FILE {path}: {error.strerror}")
    else:
        key = os.environ.get("CONTACT_KEY", "")
        if not key:
            sys.exit("set CONTACT_KEY_FILE (a file holding the contact key) or CONTACT_KEY")
    if key.strip() != key:
        sys.exit("the contact key starts or ends with white space")
    if len(key) < MIN_KEY_LENGTH:
        sys.exit(f"the contact key is {len(key)} characters long; it needs at least {MIN_KEY_LENGTH}")
    return key.encode("utf-8")


def whatsapp_contact_pk(key, organization_id, number):
    message = f"{organization_id}#{number}".encode("utf-8")
    digest = hmac.new(key, message, hashlib.sha256).digest()[:DIGEST_BYTES]
    text = base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
    return f"CONTACT#{organization_id}#wah:{text}"


def main():
    if len(sys.argv) != 2 or not sys.argv[1]:
        sys.exit("usage: contact_key.py <organization_id> < numbers (one a line)")
    organization_id = sys.argv[1]
    key = contact_key()
    for line in sys.stdin:
        number = line.strip()
        if number.startswith("+"):
            number = number[1:]
        if number:
            print(whatsapp_contact_pk(key, organization_id, number))


if __name__ == "__main__":
    main()
