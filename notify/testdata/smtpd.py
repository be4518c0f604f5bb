"""A real SMTP server for Vigil's email tests (aiosmtpd, Debian python3-aiosmtpd).

Usage: smtpd.py PORT MODE MECHS CERT KEY
  MODE  plain | starttls | tls (implicit TLS)
  MECHS comma-separated AUTH mechanisms to offer (PLAIN, LOGIN, CRAM-MD5) or "none"
Accepts user "vigil" with password/secret "s3cret". Prints READY, then one JSON line per
received message; exits when stdin closes.
"""
import base64, hashlib, hmac, json, ssl, sys, time, warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword

USER, SECRET = b"vigil", b"s3cret"
# aiosmtpd itself still fills the deprecated Session.login_data and warns about it.
warnings.simplefilter("ignore")
# The AUTH LOGIN prompts real servers (Postfix, Exchange, Gmail) send; aiosmtpd's own
# defaults ("User Name\0") are understood by few clients.
SMTP.AuthLoginUsernameChallenge = "Username:"
SMTP.AuthLoginPasswordChallenge = "Password:"
port, mode, mechs, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
offered = set() if mechs == "none" else set(mechs.split(","))


class Handler:
    async def handle_DATA(self, server, session, envelope):
        print(json.dumps({
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "login": session.auth_data.login.decode() if session.auth_data else None,
            # STARTTLS sets session.ssl; implicit TLS shows only on the transport.
            "tls": session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
            "data": envelope.content.decode("utf-8", "replace"),
        }), flush=True)
        return "250 OK"

    async def auth_CRAM__MD5(self, server, args):
        challenge = ("<%d.vigil@127.0.0.1>" % int(time.time())).encode()
        resp = await server.challenge_auth(challenge)
        if resp is MISSING:
            return AuthResult(success=False)
        user, _, digest = resp.decode().rpartition(" ")
        want = hmac.new(SECRET, challenge, hashlib.md5).hexdigest()
        return AuthResult(success=user.encode() == USER and hmac.compare_digest(digest, want),
                          auth_data=LoginPassword(user.encode(), b""))


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER and auth_data.password == SECRET
    return AuthResult(success=ok, auth_data=auth_data)


ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
kwargs = dict(
    hostname="127.0.0.1", port=port, authenticator=authenticator,
    auth_require_tls=False, auth_required=bool(offered),
    auth_exclude_mechanism=[m for m in ("PLAIN", "LOGIN", "CRAM-MD5") if m not in offered],
)
if mode == "starttls":
    kwargs.update(tls_context=ctx, require_starttls=True)
elif mode == "tls":
    kwargs.update(ssl_context=ctx)
controller = Controller(Handler(), **kwargs)
controller.start()
print("READY", flush=True)
sys.stdin.read()
controller.stop()
