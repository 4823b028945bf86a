"""The smallest WSGI app: GET / answers "Hello, World!" (stdlib only).

Run it under any server, e.g. from this directory:
    gunicorn hello:application
"""

BODY = b"Hello, World!"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
