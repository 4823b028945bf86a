"""The hello and JSON routes as a Flask app (Debian: python3-flask).

    GET /      "Hello, World!" (text/plain)
    GET /json  the same JSON object as bench.py

Run: gunicorn flask_app:app
"""

from flask import Flask, Response, jsonify

app = Flask(__name__)


@app.route("/")
def hello():
    return Response("Hello, World!", mimetype="text/plain")


@app.route("/json")
def json_route():
    return jsonify(message="Hello, World!", server="wsgikit-bench", items=[1, 2, 3])
