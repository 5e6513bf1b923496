#!/usr/bin/python3
"""A minimal Docker registry token server for the tests (the spec's bearer flow).

Serves GET /token?service=S&scope=repository:NAME:ACTIONS on a free loopback port
and prints "PORT <n>" once listening. Tokens are JWTs signed RS256 with the given
key, carrying the signing certificate in x5c so docker-registry can check them
against its rootcertbundle. Grants:
  - anonymous: pull on repositories under "public/";
  - a --user NAME:PASSWORD:pull|push: pull, or pull and push, anywhere;
  - wrong credentials: 401.
"""
import argparse
import base64
import json
import os
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--key", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--service", required=True)
    ap.add_argument("--issuer", required=True)
    ap.add_argument("--user", action="append", default=[])
    args = ap.parse_args()

    with open(args.key, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    with open(args.cert, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
    users = {}
    for spec in args.user:
        name, password, right = spec.split(":", 2)
        users[name] = (password, right)

    def sign(claims: dict) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": x5c}
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
        sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(sig)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *a):  # quiet
            pass

        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            if url.path != "/token":
                self.send_error(404)
                return
            q = urllib.parse.parse_qs(url.query)
            user, right = None, None
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                try:
                    name, password = base64.b64decode(auth[6:]).decode().split(":", 1)
                except Exception:
                    name, password = "", None
                if name not in users or users[name][0] != password:
                    self.send_response(401)
                    self.end_headers()
                    return
                user, right = name, users[name][1]
            access = []
            for scope in q.get("scope", []):
                for one in scope.split(" "):
                    parts = one.split(":")
                    if len(parts) < 3 or parts[0] != "repository":
                        continue
                    name, wanted = ":".join(parts[1:-1]), parts[-1].split(",")
                    if right == "push":
                        granted = [a for a in wanted if a in ("pull", "push")]
                    elif right == "pull" or name.startswith("public/"):
                        granted = [a for a in wanted if a == "pull"]
                    else:
                        granted = []
                    access.append({"type": "repository", "name": name, "actions": granted})
            now = int(time.time())
            token = sign({
                "iss": args.issuer, "sub": user or "", "aud": q.get("service", [""])[0],
                "exp": now + 300, "nbf": now - 30, "iat": now,
                "jti": b64url(os.urandom(12)), "access": access,
            })
            body = json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
