#!/usr/bin/python3
"""Opens every page of the HTML docs in headless Chromium and fails on any MathJax error or any
file a page cannot load (a missing picture, script or style sheet).

    scripts/check_docs.py [build/docs/html] [--jobs N] [--verbose]

It drives Chromium (Debian's `chromium`) through the DevTools protocol with Debian's
python3-websocket. For each page it waits until MathJax has typeset everything, then collects
MathJax's own error signals (a TeX error such as "Undefined control sequence \\tfrac", a math
processing error, an extension that failed to load), the elements MathJax marks as errors, every
request that failed (a missing image is a failed file:// request), every script error (with its
file, line and column) and every <img> that did not decode. A page with problems is loaded again
in a fresh tab, and only the problems that come back count: a fault of the page comes back every
time, a hiccup of the browser does not (it is printed, marked "not on a second load"). Prints
one line per problem and a summary; the exit status is 1 if there was any.
"""
import argparse
import json
import os
import pathlib
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import websocket  # Debian: python3-websocket

# Runs in the page after the load event. Resolves to a JSON string once MathJax has finished
# its startup typesetting (or at once on a page without MathJax).
PAGE_CHECK = r"""
new Promise((resolve) => {
  const problems = [];
  const finish = () => {
    document.querySelectorAll('.MathJax_Error, .merror, mjx-merror').forEach((e) => {
      problems.push('MathJax error element: ' + (e.getAttribute('title') || e.textContent).slice(0, 200));
    });
    for (const img of document.images) {
      if (!img.complete || img.naturalWidth === 0) problems.push('image did not load: ' + img.getAttribute('src'));
    }
    resolve(JSON.stringify({problems: problems, math: document.querySelectorAll('script[type^="math/tex"]').length}));
  };
  if (!window.MathJax || !window.MathJax.Hub || !window.MathJax.Hub.Register) { finish(); return; }
  // MathJax signals replay past messages to a new listener, so nothing that happened during the
  // load is missed.
  MathJax.Hub.signal.Interest((message) => {
    const name = String(message[0]);
    if (/error|failed/i.test(name)) {
      const detail = message.slice(1).map((m) => (m && m.message) || (typeof m === 'string' ? m : '')).filter((m) => m).join(' ');
      problems.push('MathJax: ' + name + (detail ? ': ' + detail.slice(0, 300) : ''));
    }
  });
  // Once MathJax has started up (isReady), queue the report behind any typesetting still to do.
  const whenReady = () => (MathJax.isReady ? MathJax.Hub.Queue(finish) : setTimeout(whenReady, 50));
  whenReady();
});
"""


class Browser:
    """One headless Chromium and a websocket to it (DevTools protocol, flattened sessions)."""

    def __init__(self, chromium):
        self.profile = tempfile.mkdtemp(prefix="gpt2_check_docs_")
        self.proc = subprocess.Popen(
            [chromium, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
             "--disable-extensions", "--allow-file-access-from-files", "--remote-debugging-port=0",
             # Several tabs at once: none may count as a background tab whose timers are slowed.
             "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
             "--disable-backgrounding-occluded-windows",
             "--user-data-dir=" + self.profile, "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        url = None
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            if "DevTools listening on " in line:
                url = line.split("DevTools listening on ", 1)[1].strip()
                break
        if url is None:
            self.close()
            sys.exit("check_docs: chromium did not start (no DevTools address on its stderr)")
        # Keep reading stderr so that Chromium never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()
        self.ws = websocket.create_connection(url, timeout=120, suppress_origin=True)
        self.next_id = 0
        self.lock = threading.Lock()
        self.waiting = {}  # message id -> queue for its reply
        self.events = {}   # session id -> queue of events
        self.targets = {}  # session id -> its tab's target id
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            try:
                message = json.loads(self.ws.recv())
            except Exception:
                for q in list(self.waiting.values()):
                    q.put({"error": {"message": "connection to chromium closed"}})
                return
            if "id" in message:
                q = self.waiting.pop(message["id"], None)
                if q:
                    q.put(message)
            elif "sessionId" in message:
                self.events.setdefault(message["sessionId"], queue.Queue()).put(message)

    def call(self, method, params=None, session=None, timeout=120):
        with self.lock:
            self.next_id += 1
            mid = self.next_id
            q = self.waiting[mid] = queue.Queue()
            message = {"id": mid, "method": method, "params": params or {}}
            if session:
                message["sessionId"] = session
            self.ws.send(json.dumps(message))
        try:
            reply = q.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"{method}: no answer from chromium in {timeout} s")
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def new_tab(self):
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.events.setdefault(session, queue.Queue())
        self.call("Page.enable", session=session)
        self.call("Network.enable", session=session)
        self.call("Runtime.enable", session=session)
        self.targets[session] = target
        return session

    def close_tab(self, session):
        try:
            self.call("Target.closeTarget", {"targetId": self.targets.pop(session)})
        except RuntimeError:
            pass  # a browser that no longer answers fails the next page's check instead
        self.events.pop(session, None)

    def close(self):
        try:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def check_page(browser, session, path):
    """The problems of one page, as a list of strings."""
    events = browser.events[session]
    while not events.empty():
        events.get_nowait()
    browser.call("Page.navigate", {"url": path.as_uri()}, session=session)
    requests, problems = {}, []

    def failed(params):
        url = requests.get(params["requestId"], "?")
        # MathJax probes for installed fonts with a web font at about:blank, which never loads.
        if not url.startswith("about:"):
            problems.append(f"cannot load {url} ({params.get('errorText', '')})")

    deadline = time.time() + 60
    while True:
        try:
            event = events.get(timeout=max(0.1, deadline - time.time()))
        except queue.Empty:
            return problems + ["the page did not finish loading in 60 s"]
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            requests[params["requestId"]] = params["request"]["url"]
        elif method == "Network.loadingFailed":
            failed(params)
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text", "")
            where = details.get("url", "")
            if where:
                where = f" at {where}:{details.get('lineNumber', 0) + 1}:{details.get('columnNumber', 0) + 1}"
            problems.append("script error" + where + (": " + text.splitlines()[0] if text else ""))
        elif method == "Page.loadEventFired":
            break
    result = browser.call("Runtime.evaluate", {"expression": PAGE_CHECK, "awaitPromise": True,
                                               "returnByValue": True, "timeout": 60000},
                          session=session, timeout=90)
    if "exceptionDetails" in result:
        return problems + ["the check itself failed: " + str(result["exceptionDetails"].get("text"))]
    report = json.loads(result["result"]["value"])
    # Failed requests that arrive while MathJax works (its extensions, fonts).
    while not events.empty():
        event = events.get_nowait()
        if event.get("method") == "Network.requestWillBeSent":
            requests[event["params"]["requestId"]] = event["params"]["request"]["url"]
        elif event.get("method") == "Network.loadingFailed":
            failed(event["params"])
    return problems + report["problems"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    root = pathlib.Path(__file__).resolve().parent.parent
    parser.add_argument("html", nargs="?", default=str(root / "build/docs/html"))
    parser.add_argument("--jobs", type=int, default=4, help="pages open at once (default 4)")
    parser.add_argument("--verbose", action="store_true", help="one line per page")
    args = parser.parse_args()
    html = pathlib.Path(args.html).resolve()
    pages = sorted(html.glob("*.html"))
    if not pages:
        sys.exit(f"check_docs: no pages in {html} (build them first: cmake --build build --target docs)")
    if not (html / "mathjax" / "MathJax.js").exists():
        sys.exit(f"check_docs: {html}/mathjax/MathJax.js is missing (Debian's libjs-mathjax, linked by the docs target)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("check_docs: chromium is not installed (apt-get install chromium)")

    start = time.time()
    browser = Browser(chromium)
    todo = queue.Queue()
    for page in pages:
        todo.put(page)
    found, lock = [], threading.Lock()

    def checked(session, page):
        try:
            return check_page(browser, session, page)
        except Exception as e:  # a page that breaks the check is a problem of that page
            return [f"check failed: {e}"]

    def worker():
        session = browser.new_tab()
        while True:
            try:
                page = todo.get_nowait()
            except queue.Empty:
                return
            problems = checked(session, page)
            if problems:
                # Load it once more in a new tab. A fault of the page itself (a TeX error, a missing
                # file, a script that does not parse) comes back every time; what does not come back
                # was the browser's, and is printed but not counted.
                fresh = browser.new_tab()
                retried = checked(fresh, page)
                browser.close_tab(fresh)
                if not retried:
                    with lock:
                        for p in problems:
                            print(f"{page.name}: (not on a second load) {p}", flush=True)
                problems = retried
            with lock:
                for p in problems:
                    found.append(f"{page.name}: {p}")
                    print(f"{page.name}: {p}", flush=True)
                if args.verbose and not problems:
                    print(f"{page.name}: ok", flush=True)

    try:
        threads = [threading.Thread(target=worker) for _ in range(max(1, args.jobs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        browser.close()
    seconds = time.time() - start
    print(f"check_docs: {len(pages)} pages in {seconds:.0f} s, {len(found)} problems")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
