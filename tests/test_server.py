"""``repair serve``: the API with a stub repairer (fast) and with the real models (marked)."""
from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from repair.doc import Edit, Report, Result, Sentence, Signature, Span, apply_edits  # noqa: E402
from repair.errors import InputError, TooLarge  # noqa: E402
from repair.server import create_app  # noqa: E402

SIG = Signature("stub-detector", "stub-restorer", 0.5, "test", 0.5, 0.5)


class Stub:
    """Flags sentences with 'got here' and restores it as 'came'; refuses what the real one refuses."""

    threshold, edit_confidence, restore_floor = 0.5, 0.5, 0.5

    def signature(self, threshold, min_confidence=None, restore_threshold=None):
        return Signature("stub-detector", "stub-restorer" if min_confidence is not None else None, threshold, "test",
                         min_confidence, restore_threshold)

    def _sentences(self, text):
        out, pos = [], 0
        for part in [p for p in text.split(". ") if p]:
            start = text.index(part, pos)
            pos = start + len(part)
            i = part.find("got here")
            spans = [Span(start + i, start + i + 8, 0.9, "got here")] if i >= 0 else []
            out.append(Sentence(start, pos, part, 0.9 if spans else 0.1, bool(spans), spans))
        return out

    def _check_text(self, text):
        if not isinstance(text, str) or "\ud83d" in text:
            raise InputError("text holds a lone surrogate")
        if len(text) > 50_000:
            raise TooLarge("document too large: it is")

    def check(self, text, threshold=None):
        self._check_text(text)
        return Report(text, self._sentences(text), self.signature(threshold or 0.5))

    def fix(self, text, threshold=None, min_confidence=None):
        return self.fix_many([text], threshold=threshold, min_confidence=min_confidence)[0]

    def fix_many(self, texts, threshold=None, min_confidence=None):
        out = []
        for text in texts:
            self._check_text(text)
            time.sleep(0.01)  # some work, so that concurrent requests overlap
            edits = [Edit(p.start, p.end, p.text, "came", 0.9) for s in self._sentences(text) for p in s.spans]
            out.append(Result(text, apply_edits(text, edits), self._sentences(text), edits,
                              self.signature(threshold or 0.5, min_confidence or 0.5, 0.5)))
        return out


TEXT = "Blinken got here to Astana. The talks went well. He got here again."


@pytest.fixture
def client():
    with TestClient(create_app(Stub, background=False)) as c:
        yield c


def test_check_and_fix_have_the_cli_json_shapes_and_offsets(client):
    rep = client.post("/v1/check", json={"text": TEXT}).json()
    assert set(rep) == {"text", "score", "sentences", "edits", "signature"} and rep["text"] == TEXT
    assert all(TEXT[s["start"]:s["end"]] == s["text"] if "text" in s else True for s in rep["sentences"])
    assert [TEXT[p["start"]:p["end"]] for s in rep["sentences"] for p in s["spans"]] == ["got here", "got here"]
    res = client.post("/v1/fix", json={"text": TEXT, "min_confidence": 0.3}).json()
    assert res["text"] == "Blinken came to Astana. The talks went well. He came again."
    assert all(TEXT[e["start"]:e["end"]] == e["before"] for e in res["edits"])
    assert "min-confidence:0.3" in res["signature"]
    many = client.post("/v1/fix", json={"texts": [TEXT, "Nothing here."]}).json()
    assert [r["text"] for r in many["results"]] == [res["text"], "Nothing here."]


def test_health_and_version(client):
    assert client.get("/healthz").json() == {"status": "ready"}
    v = client.get("/v1/version").json()
    assert "restorer:stub-restorer" in v["signature"] and "restorer" not in v["check_signature"]
    assert client.get("/openapi.json").json()["info"]["title"] == "repair"


@pytest.mark.parametrize("body, status, message", [
    (b"{not json", 400, "malformed JSON"),
    (json.dumps({"txt": "typo"}).encode(), 400, "text"),
    (json.dumps({"text": "x", "threshold": 2}).encode(), 400, "threshold"),
    (json.dumps({"text": 5}).encode(), 422, "not text"),
    (json.dumps({"texts": ["a", 5]}).encode(), 422, "not text"),
    (json.dumps({"text": "bad \ud83d here"}).encode(), 422, "lone surrogate"),
    (json.dumps({"text": "word " * 20_000}).encode(), 413, "too large"),
])
def test_every_bad_request_gets_its_status_and_a_one_line_json_error(client, body, status, message):
    r = client.post("/v1/check" if b"texts" not in body else "/v1/fix", content=body,
                    headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert message in r.json()["error"] and "\n" not in r.json()["error"]


def test_fix_needs_exactly_one_of_text_and_texts(client):
    assert client.post("/v1/fix", json={}).status_code == 400
    assert client.post("/v1/fix", json={"text": "a", "texts": ["b"]}).status_code == 400


def test_the_body_size_limit_holds_whatever_the_headers_say():
    with TestClient(create_app(Stub, background=False, max_bytes=1000)) as c:
        r = c.post("/v1/check", json={"text": "x" * 2000})
        assert r.status_code == 413 and "limit of 1,000 bytes" in r.json()["error"]

        def chunks():  # no Content-Length: the body streams in
            for _ in range(20):
                yield b" " * 100
        r = c.post("/v1/check", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413


def test_a_token_is_required_when_given():
    with TestClient(create_app(Stub, background=False, token="s3cret")) as c:
        assert c.post("/v1/check", json={"text": TEXT}).status_code == 401
        assert c.post("/v1/check", json={"text": TEXT}, headers={"authorization": "Bearer wrong"}).status_code == 401
        assert c.post("/v1/check", json={"text": TEXT}, headers={"authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/healthz").status_code == 200  # health stays open for load balancers
        # the review page holds no data: it loads without the token, and sends the one the editor types
        assert c.get("/").status_code == 200 and c.get("/static/review.js").status_code == 200
        assert c.get("/v1/version").status_code == 401


def test_the_review_page_and_only_its_files_are_served():
    with TestClient(create_app(Stub, background=False)) as c:
        page = c.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert 'src="static/review.js"' in page.text and 'href="static/review.css"' in page.text
        # its own script and styles only, talking to this server only
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "connect-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        assert c.get("/static/review.js").headers["content-type"].startswith("text/javascript")
        assert c.get("/static/review.css").headers["content-type"].startswith("text/css")
        for bad in ("/static/__init__.py", "/static/..%2fserver.py", "/static/../server.py", "/static/"):
            r = c.get(bad)
            assert r.status_code == 404, bad
        assert "/" not in c.get("/openapi.json").json()["paths"]  # the API schema lists the API only


def test_a_public_host_without_a_token_is_refused():
    from repair.server import serve

    with pytest.raises(InputError, match="--token"):
        serve("0.0.0.0", 8765)


def test_503_while_loading_then_ready():
    gate = threading.Event()

    def slow():
        gate.wait(10)
        return Stub()

    with TestClient(create_app(slow)) as c:
        assert c.get("/healthz").status_code == 503
        r = c.post("/v1/check", json={"text": TEXT})
        assert r.status_code == 503 and "loading" in r.json()["error"]
        gate.set()
        c.app.state.ready.wait(10)
        assert c.get("/healthz").status_code == 200 and c.post("/v1/check", json={"text": TEXT}).status_code == 200


def test_no_cors_unless_an_origin_is_given():
    headers = {"origin": "https://cms.example", "access-control-request-method": "POST"}
    with TestClient(create_app(Stub, background=False)) as c:
        assert "access-control-allow-origin" not in c.options("/v1/check", headers=headers).headers
    with TestClient(create_app(Stub, background=False, cors=["https://cms.example"])) as c:
        assert c.options("/v1/check", headers=headers).headers["access-control-allow-origin"] == "https://cms.example"


def test_requests_queue_onto_one_model_thread_and_a_full_queue_is_told_to_retry():
    """Model work runs on one thread, one request after another (memory stays that of one request);
    beyond ``max_queue`` waiting requests, 503 with Retry-After."""
    gate, entered, threads = threading.Event(), threading.Event(), set()

    class Slow(Stub):
        def fix_many(self, texts, **kw):
            threads.add(threading.current_thread().name)
            entered.set()
            gate.wait(10)
            return super().fix_many(texts, **kw)

    with TestClient(create_app(Slow, background=False, max_queue=2)) as c, ThreadPoolExecutor(2) as pool:
        first = pool.submit(c.post, "/v1/fix", json={"text": TEXT})
        assert entered.wait(10)
        second = pool.submit(c.post, "/v1/fix", json={"text": TEXT})
        time.sleep(0.5)  # the second is waiting behind the first
        third = c.post("/v1/fix", json={"text": TEXT})
        assert third.status_code == 503 and third.headers["retry-after"] == "5" and "busy" in third.json()["error"]
        gate.set()
        assert first.result().status_code == 200 and second.result().status_code == 200
        assert c.post("/v1/fix", json={"text": TEXT}).status_code == 200  # the queue drained
    assert len(threads) == 1 and threads.pop().startswith("repair-models")


def test_twenty_concurrent_requests_equal_sequential_ones(client):
    texts = [f"Officials got here on day {i}. Nothing else." for i in range(20)]
    sequential = [client.post("/v1/fix", json={"text": t}).json() for t in texts]
    with ThreadPoolExecutor(20) as pool:
        concurrent = list(pool.map(lambda t: client.post("/v1/fix", json={"text": t}).json(), texts))
    assert concurrent == sequential


@pytest.mark.model
def test_the_real_models_behind_the_api(repairer):
    with TestClient(create_app(lambda: repairer, background=False)) as c:
        text = "Secretary of State Antony Blinken got here to Central Asia on Tuesday."
        res = c.post("/v1/fix", json={"text": text}).json()
        local = repairer.fix(text).to_dict()
        assert res == local
        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(lambda _: c.post("/v1/fix", json={"text": text}).json(), range(4))) == [local] * 4
