#!/usr/bin/env python3
"""Self-test for infra/dovecot.sh (run by `infra/dovecot.sh selftest <dir>`).

usage: selftest.py <dir> before-restart|after-restart

Stdlib only. Reads <dir>/port, <dir>/password and <dir>/oauth2/hs256.key, the
files a Rust test reads too, and shows how to mint a token Dovecot accepts.
"""
import base64
import hashlib
import hmac
import imaplib
import json
import os
import sys
import time

USER = "alice@corp.example"
FOLDER = "WhatsApp Archiver"
CJK_FOLDER_UTF7 = "&b66Ua1tYaGM-"  # "微信存档" in modified UTF-7 (RFC 3501 5.1.3)
MESSAGE_ID = "<selftest-1@mobile-archiver.test>"
INTERNALDATE = '"01-Feb-2024 10:20:30 +0000"'


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_jwt(key: bytes, claims: dict) -> str:
    """HS256 JWT; Dovecot 2.3.19 requires typ=JWT in the header."""
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(sig)


def entra_like_claims(email: str, **overrides) -> dict:
    now = int(time.time())
    claims = {
        "iss": "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0",
        "aud": "https://outlook.office365.com",
        "sub": "selftest-subject",
        "email": email,
        "iat": now - 5,
        "nbf": now - 5,
        "exp": now + 600,
    }
    claims.update(overrides)
    return claims


def xoauth2(user: str, token: str):
    return lambda _challenge: f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


def check(cond, what):
    if not cond:
        raise SystemExit(f"selftest FAILED: {what}")
    print(f"ok - {what}")


def expect_auth_failure(port, user, token, what):
    imap = imaplib.IMAP4("127.0.0.1", port)
    try:
        imap.authenticate("XOAUTH2", xoauth2(user, token))
    except imaplib.IMAP4.error:
        check(True, what)
    else:
        check(False, what)
    finally:
        imap.shutdown()


def main():
    directory, phase = sys.argv[1], sys.argv[2]
    port = int(open(os.path.join(directory, "port")).read())
    password = open(os.path.join(directory, "password")).read()
    key = base64.b64decode(open(os.path.join(directory, "oauth2", "hs256.key")).read())
    maildir = os.path.join(directory, "mail", USER)

    # --- password login
    imap = imaplib.IMAP4("127.0.0.1", port)
    check(imap.welcome.startswith(b"* OK"), "greeting is * OK")
    typ, _ = imap.login(USER, password)
    check(typ == "OK", "LOGIN with the static password")
    typ, caps = imap.capability()
    caps = caps[0].decode().split()
    for cap in ("IMAP4rev1", "UIDPLUS", "MOVE", "LITERAL+", "MULTIAPPEND"):
        check(cap in caps, f"capability {cap}")

    if phase == "before-restart":
        check(imap.create(f'"{FOLDER}"')[0] == "OK", f"CREATE {FOLDER}")
        check(imap.create(CJK_FOLDER_UTF7)[0] == "OK", f"CREATE {CJK_FOLDER_UTF7}")
        check(imap.create(f'"{FOLDER}"')[0] == "NO", "CREATE of an existing folder is NO")
        body = (
            "From: Bob <bob@corp.example>\r\n"
            f"To: {USER}\r\n"
            f"Message-ID: {MESSAGE_ID}\r\n"
            "Date: Thu, 01 Feb 2024 10:20:30 +0000\r\n"
            "Subject: selftest\r\n"
            "\r\n"
            "hello\r\n"
        ).encode()
        typ, data = imap.append(f'"{FOLDER}"', r"(\Seen)", INTERNALDATE, body)
        check(typ == "OK" and b"APPENDUID" in data[0], f"APPEND answers APPENDUID: {data[0]!r}")
        typ, data = imap.append(CJK_FOLDER_UTF7, r"(\Seen)", INTERNALDATE, body)
        check(typ == "OK", "APPEND into the modified UTF-7 folder")

    typ, data = imap.list()
    names = b"\n".join(data).decode()
    check(FOLDER in names and CJK_FOLDER_UTF7 in names, "LIST shows both folders")

    typ, data = imap.select(f'"{FOLDER}"')
    check(typ == "OK" and data[0] == b"1", f"SELECT {FOLDER}: {data[0]!r} message(s)")
    typ, data = imap.uid("SEARCH", "HEADER", "Message-ID", f'"{MESSAGE_ID}"')
    uids = data[0].split()
    check(typ == "OK" and len(uids) == 1, f"UID SEARCH HEADER Message-ID finds it: {uids}")
    typ, data = imap.uid("FETCH", uids[0], "(INTERNALDATE FLAGS)")
    meta = data[0].decode()
    check("01-Feb-2024 10:20:30 +0000" in meta, f"INTERNALDATE kept: {meta}")
    check("\\Seen" in meta, "\\Seen flag kept")
    imap.logout()

    cur = os.path.join(maildir, "." + FOLDER, "cur")
    files = os.listdir(cur)
    check(len(files) == 1 and ":2,S" in files[0], f"Maildir++ file in {cur}: {files}")
    check(os.path.isdir(os.path.join(maildir, "." + CJK_FOLDER_UTF7, "cur")), "mUTF-7 folder on disk")

    # --- XOAUTH2 with a locally validated HS256 JWT
    token = mint_jwt(key, entra_like_claims(USER))
    imap = imaplib.IMAP4("127.0.0.1", port)
    typ, _ = imap.authenticate("XOAUTH2", xoauth2(USER, token))
    check(typ == "OK", "AUTHENTICATE XOAUTH2 with a valid token")
    typ, data = imap.select(f'"{FOLDER}"', readonly=True)
    check(typ == "OK" and data[0] == b"1", "same mailbox after XOAUTH2")
    imap.logout()

    # OAUTHBEARER (RFC 7628)
    imap = imaplib.IMAP4("127.0.0.1", port)
    typ, _ = imap.authenticate(
        "OAUTHBEARER",
        lambda _c: f"n,a={USER},\x01auth=Bearer {token}\x01\x01".encode(),
    )
    check(typ == "OK", "AUTHENTICATE OAUTHBEARER with a valid token")
    imap.logout()

    expect_auth_failure(port, USER, mint_jwt(b"wrong key" * 4, entra_like_claims(USER)),
                        "XOAUTH2 with a token signed by another key is refused")
    expect_auth_failure(port, USER, token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"),
                        "XOAUTH2 with a tampered signature is refused")
    expect_auth_failure(port, USER, mint_jwt(key, entra_like_claims(USER, exp=int(time.time()) - 60,
                                                                    iat=int(time.time()) - 120,
                                                                    nbf=int(time.time()) - 120)),
                        "XOAUTH2 with an expired token is refused")
    expect_auth_failure(port, USER, mint_jwt(key, entra_like_claims("mallory@corp.example")),
                        "XOAUTH2 with another user's token is refused")
    expect_auth_failure(port, USER, "not-a-jwt", "XOAUTH2 with garbage is refused")
    expect_auth_failure(port, USER, password, "XOAUTH2 with the static password is refused")

    imap = imaplib.IMAP4("127.0.0.1", port)
    try:
        imap.login(USER, "wrong-password")
    except imaplib.IMAP4.error:
        check(True, "LOGIN with a wrong password is refused")
    else:
        check(False, "LOGIN with a wrong password is refused")
    imap.shutdown()
    print(f"selftest {phase}: all checks passed")


if __name__ == "__main__":
    main()
