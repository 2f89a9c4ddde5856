#!/usr/bin/env python3
"""gpt2 serve's page in a real browser: Debian's chromium, headless, driven through the DevTools
protocol over a pipe (--remote-debugging-pipe: JSON messages separated by NUL bytes on file
descriptors 3 and 4), with nothing but Python's standard library.

It starts `gpt2 serve --port 0` on a model, loads the page, and checks each view as a user would:
types a text and sees its tokens; types a prompt, presses Generate and sees the tokens stream in
(and a token's tooltip with its alternatives); opens the attention view and finds the heat maps
drawn (pixels that are not white); opens the logit lens and finds one row per block; sends a chat
message and gets a reply. Any JavaScript exception on the page fails the test. It saves a
screenshot of each view, then stops the server with SIGINT and checks that it exits cleanly.

Usage:
  python3 browser_test.py --gpt2 build/bin/gpt2 --model tests/fixtures/12_chat_model --out-dir build/serve_page
Exit status: 0 passed, 1 failed, 77 skipped (no chromium: CTest reports the test as skipped).
"""
import argparse
import base64
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

SKIP = 77


class Browser:
    """A headless chromium and one page in it, spoken to through the DevTools protocol."""

    def __init__(self, chromium, profile_dir, log_path, width, height):
        cmd_r, cmd_w = os.pipe()  # we write commands, chromium reads them on fd 3
        out_r, out_w = os.pipe()  # chromium writes answers and events on fd 4, we read them
        # Move the child's ends above fd 4, so that dup2 onto 3 and 4 always copies (and clears
        # close-on-exec); every other descriptor of ours is close-on-exec already.
        child_r = fcntl.fcntl(cmd_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_w = fcntl.fcntl(out_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(cmd_r)
        os.close(out_w)
        args = [chromium, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-dev-shm-usage", "--hide-scrollbars",
                f"--user-data-dir={profile_dir}", f"--window-size={width},{height}", "about:blank"]
        self.pid = os.posix_spawn(chromium, args, os.environ, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
            (os.POSIX_SPAWN_DUP2, child_r, 3),
            (os.POSIX_SPAWN_DUP2, child_w, 4),
        ])
        os.close(child_r)
        os.close(child_w)
        self.send_fd, self.recv_fd = cmd_w, out_r
        self.buffer = b""
        self.next_id = 0
        self.events = []
        self.session = None
        self.width, self.height = width, height

    def _read_message(self, deadline):
        while b"\0" not in self.buffer:
            if time.time() > deadline:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self.recv_fd, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe (it crashed or exited)")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.send_fd, json.dumps(message).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def open_page(self):
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False})

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"page error evaluating {expression!r}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_for(self, expression, what, timeout=60):
        deadline = time.time() + timeout
        guarded = f"(() => {{ try {{ return !!({expression}); }} catch (e) {{ return false; }} }})()"  # page loading
        while time.time() < deadline:
            if self.evaluate(guarded):
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what} ({expression})")

    def type_into(self, element_id, text):
        """Focuses an input, selects what it holds, and types `text` over it as keystrokes would."""
        self.evaluate(f"(() => {{ const e = document.getElementById({json.dumps(element_id)}); e.focus(); e.select(); }})()")
        self.call("Input.insertText", {"text": text})

    def click(self, selector):
        self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")

    def hover(self, selector):
        box = self.evaluate(f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
                            " return [r.left + r.width / 2, r.top + r.height / 2]; })()")
        self.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": box[0], "y": box[1]})

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def exceptions(self):
        return [e for e in self.events if e.get("method") == "Runtime.exceptionThrown"]

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        for _ in range(50):
            if os.waitpid(self.pid, os.WNOHANG)[0]:
                return
            time.sleep(0.1)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


def start_server(gpt2, model):
    server = subprocess.Popen([gpt2, "serve", "--model", model, "--port", "0"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.time() + 120
    while time.time() < deadline:
        line = server.stdout.readline()
        if not line:
            raise RuntimeError("gpt2 serve exited: " + "".join(lines) + server.stderr.read())
        lines.append(line)
        m = re.search(r"open (http://\S+/) in a browser", line)
        if m:
            return server, m.group(1)
    raise RuntimeError("gpt2 serve printed no URL")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpt2", required=True, help="the gpt2 binary")
    ap.add_argument("--model", required=True, help="model directory to serve")
    ap.add_argument("--out-dir", required=True, help="where the screenshots go")
    ap.add_argument("--chromium", default=None, help="the browser (default: chromium on the PATH)")
    ap.add_argument("--prompt", default="ROMEO:\n")
    ap.add_argument("--tokens", type=int, default=20, help="tokens to generate")
    ap.add_argument("--attention-text", default=None, help="text for the attention and lens views")
    ap.add_argument("--chat-text", default="Good morrow!", help="the chat message")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=900)
    args = ap.parse_args()

    chromium = args.chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("skipped: no chromium on the PATH (Debian: apt-get install chromium)")
        return SKIP
    os.makedirs(args.out_dir, exist_ok=True)
    server, url = start_server(args.gpt2, args.model)
    profile = tempfile.mkdtemp(prefix="gpt2_serve_browser_")
    browser = None
    try:
        with urllib.request.urlopen(url + "api/info") as r:
            info = json.load(r)
        browser = Browser(chromium, profile, os.path.join(args.out_dir, "chromium.log"), args.width, args.height)
        browser.open_page()
        browser.call("Page.navigate", {"url": url})
        browser.wait_for("document.getElementById('model-info').textContent.includes('layers')", "the model's description")

        # Tokenizer: type a text; the page shows as many tokens as the server's tokenizer makes.
        text = "Hello world, tokens!"
        req = urllib.request.Request(url + "api/tokenize", data=json.dumps({"text": text}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            expected = json.load(r)["count"]
        browser.type_into("tok-text", text)
        browser.wait_for(f"document.querySelectorAll('#tok-out .tok').length === {expected}", f"{expected} tokens")
        # Click the longest token: its merge tree is the deepest.
        browser.evaluate("[...document.querySelectorAll('#tok-out .tok')]"
                         ".reduce((a, b) => b.textContent.length > a.textContent.length ? b : a).click()")
        browser.wait_for("document.querySelectorAll('#tok-detail li').length > 0", "the merge tree")
        print(f"tokenizer view: {expected} tokens")
        browser.screenshot(os.path.join(args.out_dir, "serve_tokenizer.png"))

        # Generation: type a prompt, press Generate, watch the tokens stream in.
        browser.click("#tabs button[data-view=generate]")
        browser.type_into("gen-prompt", args.prompt)
        browser.type_into("gen-max", str(args.tokens))
        browser.click("#gen-run")
        browser.wait_for("document.getElementById('gen-out').dataset.state === 'done'", "the generation to finish")
        count = browser.evaluate("document.querySelectorAll('#gen-out .gen-tok').length")
        stats = browser.evaluate("document.getElementById('gen-stats').textContent")
        print(f"generation view: {count} tokens streamed; {stats}")
        assert count >= 1, "no generated token arrived"
        assert "finish_reason" in stats, stats
        browser.hover("#gen-out .gen-tok")
        browser.wait_for("!document.getElementById('tip').hidden && document.getElementById('tip').textContent.includes('%')",
                         "a token's tooltip with its probabilities")
        browser.screenshot(os.path.join(args.out_dir, "serve_generate.png"))
        browser.evaluate("document.getElementById('tip').hidden = true")

        # Attention: the heat maps are drawn (the big one has pixels that are not white).
        if args.attention_text:
            browser.evaluate(f"document.getElementById('att-text').value = {json.dumps(args.attention_text)};"
                             f"document.getElementById('lens-text').value = {json.dumps(args.attention_text)}")
        browser.click("#tabs button[data-view=attention]")
        browser.wait_for("document.getElementById('att-map').dataset.drawn === '1'", "the attention heat map")
        grid = browser.evaluate("document.querySelectorAll('#att-grid canvas').length")
        assert grid == info["n_layer"] * info["n_head"], f"{grid} small heat maps, expected one per layer and head"
        coloured = browser.evaluate("""(() => {
            const c = document.getElementById('att-map'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 200 && d[i + 2] > d[i]) n++; return n; })()""")
        assert coloured > 100, f"the heat map has only {coloured} coloured pixels"
        browser.click("#att-grid .cell[data-layer='0'][data-head='1']")
        browser.evaluate("document.querySelector('#att-lines text').dispatchEvent(new MouseEvent('click'))")
        lines = browser.evaluate("document.querySelectorAll('#att-lines line').length")
        assert lines == 1, f"the first token attends to itself only, but {lines} lines are drawn"
        browser.evaluate("document.querySelectorAll('#att-lines text')[2 * 3].dispatchEvent(new MouseEvent('click'))")
        lines = browser.evaluate("document.querySelectorAll('#att-lines line').length")
        print(f"attention view: {grid} heat maps, {coloured} coloured pixels in the large one, 4 lines from token 3: {lines}")
        assert lines == 4
        browser.screenshot(os.path.join(args.out_dir, "serve_attention.png"))

        # Logit lens: one row per block plus the embedding.
        browser.click("#tabs button[data-view=lens]")
        browser.wait_for("document.getElementById('lens-out').dataset.state === 'done'", "the logit lens")
        rows = browser.evaluate("document.querySelectorAll('#lens-out tr').length")
        assert rows == info["n_layer"] + 2, f"{rows} rows in the lens table"
        print(f"logit-lens view: {rows - 1} rows")
        browser.screenshot(os.path.join(args.out_dir, "serve_lens.png"))

        # Chat: one message, one streamed reply.
        browser.click("#tabs button[data-view=chat]")
        browser.type_into("chat-input", args.chat_text)
        browser.click("#chat-send")
        browser.wait_for("document.getElementById('chat-log').dataset.replies === '1'", "the chat's reply")
        print("chat view: a reply arrived")
        browser.screenshot(os.path.join(args.out_dir, "serve_chat.png"))

        errors = browser.exceptions()
        assert not errors, f"JavaScript exceptions on the page: {errors}"
        shown = browser.evaluate("document.getElementById('error').hidden")
        assert shown, "the page shows an error: " + str(browser.evaluate("document.getElementById('error').textContent"))
    finally:
        if browser:
            browser.close()
        shutil.rmtree(profile, ignore_errors=True)
        server.send_signal(signal.SIGINT)  # as Ctrl-C does
        try:
            out, err = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            raise AssertionError("gpt2 serve did not stop within 30 s of SIGINT")
    assert server.returncode == 0, f"gpt2 serve exited with {server.returncode}: {err}"
    assert "stopped" in out, out
    print(f"screenshots in {args.out_dir}; gpt2 serve stopped cleanly on SIGINT")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (AssertionError, RuntimeError, TimeoutError) as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
