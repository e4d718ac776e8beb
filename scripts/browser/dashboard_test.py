"""Drives the dashboard in headless Chromium against a running egressd (see scripts/browser-tests).

Each check prints PASS or raises; the first failure ends the run with a non-zero status and a
screenshot of the page as it was. Run in two viewports: 1280x800 (with the keyboard-only path)
and 390x844.
"""

import argparse
import base64
import json
import socket
import sys
import time
import traceback
import urllib.request

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

VIEWPORTS = [("desktop", 1280, 800, True), ("phone", 390, 844, False)]
TIMEOUT_MS = 15_000


class Run:
    def __init__(self, args):
        self.args = args
        self.passed = []

    def check(self, name):
        self.passed.append(name)
        print(f"PASS {name}", flush=True)

    def api(self, method, path, body=None):
        request = urllib.request.Request(
            self.args.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.args.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.loads(reply.read() or b"null")


def shot(page, args, name):
    page.screenshot(path=f"{args.artefacts}/screenshots/{name}.png", full_page=True)


def tab_to(page, predicate_js, what, limit=250):
    """Presses Tab until the focused element satisfies `predicate_js` (a JS function body on `el`)."""
    for _ in range(limit):
        if page.evaluate(f"(() => {{ const el = document.activeElement; return !!(el && ({predicate_js})); }})()"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {what}")


def open_tunnel(args):
    """A CONNECT tunnel through the proxy to the whoami origin, kept open; returns (socket, seen address)."""
    host, port = args.proxy.split(":")
    s = socket.create_connection((host, int(port)), timeout=10)
    credentials = base64.b64encode(args.proxy_user.encode()).decode()
    s.sendall(
        f"CONNECT {args.origin} HTTP/1.1\r\nHost: {args.origin}\r\n"
        f"Proxy-Authorization: Basic {credentials}\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise AssertionError(f"the proxy closed the tunnel: {head!r}")
        head += chunk
    status = head.split(b"\r\n", 1)[0]
    assert b" 200" in status, f"CONNECT answered {status!r}"
    s.sendall(f"GET / HTTP/1.1\r\nHost: {args.origin}\r\nConnection: keep-alive\r\n\r\n".encode())
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += s.recv(4096)
    headers, body = reply.split(b"\r\n\r\n", 1)
    length = next(
        int(line.split(b":", 1)[1]) for line in headers.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += s.recv(4096)
    return s, body.decode().strip()


def sign_in(page, run, keyboard):
    args = run.args
    page.goto(f"{args.base}/dashboard/")
    expect(page.locator("#sign-in")).to_be_visible(timeout=TIMEOUT_MS)
    if keyboard:
        # A wrong token first: refused, with the error next to the field.
        tab_to(page, "el.id === 'token'", "the token field")
        page.keyboard.type("egt_not-a-token")
        page.keyboard.press("Enter")
        expect(page.locator("#token-error")).to_contain_text("unknown or revoked", timeout=TIMEOUT_MS)
        run.check("a wrong token is refused next to the field")
        tab_to(page, "el.id === 'token'", "the token field")
        page.keyboard.press("Control+A")
        page.keyboard.press("Backspace")
        page.keyboard.type(args.token)
        tab_to(page, "el.type === 'submit' && el.closest('#sign-in-form')", "the sign-in button")
        page.keyboard.press("Enter")
    else:
        page.locator("#token").fill(args.token)
        page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#nav")).to_be_visible(timeout=TIMEOUT_MS)
    stored = page.evaluate("sessionStorage.getItem('egressd.token')")
    assert stored == args.token, "the token is kept in sessionStorage"
    run.check(f"sign in{' with the keyboard only' if keyboard else ''}")


def no_horizontal_scroll(page, label):
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{label}: the page scrolls sideways by {overflow}px"


def leased_ips(page, run, label):
    page.goto(f"{run.args.base}/dashboard/#/address-space")
    table = page.get_by_role("region", name="Leased IPs", exact=True)
    expect(table).to_be_visible(timeout=TIMEOUT_MS)
    example = run.api("GET", "/v1/leased-ips")
    assert len(example) == 5, example
    for ip in example:
        row = table.locator("tr", has_text=ip["ipv4"])
        expect(row).to_contain_text(ip["account"])
        expect(row).to_contain_text(ip["city"])
        expect(row).to_contain_text("BYOIP" if ip["source"] == "byoip" else "leased")
        expect(row).to_contain_text("not checked")
    no_horizontal_scroll(page, label)
    shot(page, run.args, f"{label}-leased-ips")
    run.check(f"{label}: the example's {len(example)} leased IPs with account, city, source and check status")


def open_policies(page, run):
    page.goto(f"{run.args.base}/dashboard/#/policies")
    expect(page.locator("ol.policies > li").first).to_be_visible(timeout=TIMEOUT_MS)
    page.locator("#account").select_option("acme")
    expect(page.locator("ol.policies > li").first).to_be_visible(timeout=TIMEOUT_MS)


def refused_without_fallback(page, run, label):
    open_policies(page, run)
    page.locator("#new-policy").click()
    name = f"no fallback {label}"
    page.locator("#f-name").fill(name)
    page.locator("#f-traffic").fill("net.dst.port == 22")
    page.locator("#f-method").select_option("dedicated")
    page.locator("#f-ipv4").select_option("203.0.113.30")
    page.locator("#f-ipv4_fallback").select_option("")
    # As typed: the validation endpoint's problem, next to the fallback field.
    error = page.locator("#err-ipv4_fallback")
    expect(error).to_contain_text("ipv4_fallback", timeout=TIMEOUT_MS)
    expect(page.locator("#f-ipv4_fallback")).to_have_attribute("aria-invalid", "true")
    run.check(f"{label}: validation as you type puts the missing fallback next to its field")
    # A typo in an expression goes next to the expression.
    page.locator("#f-traffic").fill("net.dst.prot == 22")
    expect(page.locator("#err-traffic")).not_to_be_empty(timeout=TIMEOUT_MS)
    page.locator("#f-traffic").fill("net.dst.port == 22")
    expect(page.locator("#err-traffic")).to_be_empty(timeout=TIMEOUT_MS)
    # Saving anyway: refused by the API, shown at the field, nothing typed is lost.
    before = run.api("GET", "/v1/accounts/acme/policies")
    page.get_by_role("button", name="Create").click()
    expect(error.locator(".problem")).to_have_count(1, timeout=TIMEOUT_MS)
    expect(page.locator("#f-name")).to_have_value(name)
    expect(page.locator("#f-traffic")).to_have_value("net.dst.port == 22")
    expect(page.locator("#f-ipv4")).to_have_value("203.0.113.30")
    assert run.api("GET", "/v1/accounts/acme/policies") == before, "a refused save stores nothing"
    shot(page, run.args, f"{label}-policy-refused")
    run.check(f"{label}: a refused save keeps the form and shows the problem next to the field")
    page.get_by_role("button", name="Cancel").click()


def add_policy(page, run, label, port):
    name = f"dash {label}"
    page.locator("#new-policy").click()
    page.locator("#f-name").fill(name)
    page.locator("#f-precedence").fill("5000" if label == "desktop" else "5010")
    page.locator("#f-traffic").fill(f"net.dst.port == {port}")
    page.locator("#f-method").select_option("dedicated")
    page.locator("#f-ipv4").select_option(run.args.expect_egress)
    page.locator("#f-ipv4_fallback").select_option("203.0.113.10")
    expect(page.locator(".editor .status")).to_have_text("No problems found.", timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Create").click()
    last = page.locator("ol.policies > li").last
    expect(last).to_contain_text(name, timeout=TIMEOUT_MS)
    run.check(f"{label}: add policy “{name}” (last in the list)")
    return name


def move_to_top(page, run, label, name, keyboard):
    items = page.locator("ol.policies > li")
    position = lambda: [t.strip() for t in items.locator(".policy-name").all_inner_texts()].index(name)  # noqa: E731
    start = position()
    assert start > 0, "the new policy starts below others"
    if keyboard:
        page.locator("#page-title").focus()
        tab_to(page, f"el.getAttribute('aria-label') === {json.dumps('Move up: ' + name)}", f"Move up of {name}")
    for step in range(start):
        if keyboard:
            page.keyboard.press("Enter")
        else:
            items.nth(position()).get_by_role("button", name=f"Move up: {name}").click()
        expect(items.nth(start - step - 1).locator(".policy-name")).to_have_text(name, timeout=TIMEOUT_MS)
        if keyboard and step < start - 1:
            label_now = page.evaluate("document.activeElement.getAttribute('aria-label')")
            assert label_now == f"Move up: {name}", f"focus stays on the moved policy's button, not {label_now!r}"
    policies = run.api("GET", "/v1/accounts/acme/policies")
    assert policies[0]["name"] == name, [p["name"] for p in policies]
    shot(page, run.args, f"{label}-policies")
    run.check(f"{label}: move “{name}” to the top{' with Tab and Enter only' if keyboard else ''} ({start} steps)")


def explain_panel(page, run, label, name, port):
    page.locator("#f-t-user").fill("alice")
    page.locator("#f-t-from").fill("127.0.0.1")
    page.locator("#f-t-to").fill(f"{run.args.origin.split(':')[0]}:{port}")
    page.get_by_role("button", name="Explain").click()
    expect(page.locator(".explanation .plan.ok")).to_contain_text(f"Policy “{name}” matched", timeout=TIMEOUT_MS)
    expect(page.locator(".explanation .plan.ok")).to_contain_text(run.args.expect_egress)
    run.check(f"{label}: the test-a-connection panel explains the match")


def live_traffic(page, run, label, name, chart):
    tunnel, seen = open_tunnel(run.args)
    try:
        assert seen == run.args.expect_egress, f"the origin saw {seen}, not {run.args.expect_egress}"
        run.check(f"{label}: a connection through the proxy leaves from {seen}")
        page.goto(f"{run.args.base}/dashboard/#/address-space")
        leased = page.get_by_role("region", name="Leased IPs", exact=True).locator("tr", has_text=seen)
        expect(leased).to_contain_text("1 IPv4", timeout=TIMEOUT_MS)
        expect(leased).to_contain_text("1 / 40000")
        run.check(f"{label}: leased IPs count the open connection and its port budget")
        if chart:
            # Hold it until the node's history has sampled it (one sample every 10 s).
            deadline = time.time() + 25
            while time.time() < deadline:
                history = run.api("GET", "/v1/traffic-history")
                if any(s["egress_ip"] == seen and any(x["connections"] for x in s["samples"]) for s in history["series"]):
                    break
                time.sleep(1)
            else:
                raise AssertionError(f"the traffic history never sampled {seen}: {history}")
        page.goto(f"{run.args.base}/dashboard/#/live")
        active = page.get_by_role("region", name="Open connections", exact=True)
        row = active.locator("tr", has_text=name)
        expect(row).to_be_visible(timeout=TIMEOUT_MS)
        expect(row).to_contain_text(seen)
        run.check(f"{label}: the open connection is in live traffic with policy “{name}”")
        if chart:
            expect(page.locator("svg.chart circle.dot").first).to_be_attached(timeout=TIMEOUT_MS)
            expect(page.locator("svg.chart path.line")).to_have_count(2 * len(history["series"]))
            expect(page.locator(".legend")).to_contain_text(seen)
            run.check(f"{label}: the charts draw {seen} from the node's history")
        no_horizontal_scroll(page, label)
        shot(page, run.args, f"{label}-live-traffic")
    finally:
        tunnel.close()
    page.locator("#filter-policy").fill(name)
    page.get_by_role("button", name="Apply filters").click()
    logs = page.get_by_role("region", name="Log records", exact=True)
    expect(logs.locator("tr", has_text=seen).first).to_be_visible(timeout=TIMEOUT_MS)
    expect(logs.locator("tbody tr")).to_have_count(1)
    expect(logs).to_contain_text(name)
    run.check(f"{label}: after it closes, the filtered logs show it with policy “{name}”")
    expect(page.get_by_role("region", name="Locations", exact=True)).to_contain_text("fra")
    shot(page, run.args, f"{label}-live-logs")


def traffic_settings(page, run, label):
    page.goto(f"{run.args.base}/dashboard/#/traffic-settings")
    page.locator("#account").select_option("globex")
    udp = page.locator("input[name=udp]")
    expect(udp).not_to_be_checked(timeout=TIMEOUT_MS)
    udp.check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".settings .status")).to_have_text("Saved.", timeout=TIMEOUT_MS)
    assert run.api("GET", "/v1/accounts/globex/traffic-settings")["udp"] is True
    shot(page, run.args, f"{label}-traffic-settings")
    udp.uncheck()
    # A change clears the earlier "Saved.", so the next one speaks for this save alone.
    expect(page.locator(".settings .status")).to_have_text("")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".settings .status")).to_have_text("Saved.", timeout=TIMEOUT_MS)
    assert run.api("GET", "/v1/accounts/globex/traffic-settings")["udp"] is False
    run.check(f"{label}: traffic settings save per account")


def sign_out(page, run, label):
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#sign-in")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('egressd.token')") is None
    run.check(f"{label}: sign out forgets the token")


def main():
    parser = argparse.ArgumentParser()
    for flag in ["base", "token", "chromium", "proxy", "proxy-user", "origin", "expect-egress", "artefacts"]:
        parser.add_argument(f"--{flag}", required=True)
    args = parser.parse_args()
    run = Run(args)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, headless=True)
        try:
            for index, (label, width, height, keyboard) in enumerate(VIEWPORTS):
                context = browser.new_context(viewport={"width": width, "height": height})
                page = context.new_page()
                errors = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                try:
                    sign_in(page, run, keyboard)
                    leased_ips(page, run, label)
                    refused_without_fallback(page, run, label)
                    port = 8080
                    name = add_policy(page, run, label, port)
                    move_to_top(page, run, label, name, keyboard)
                    explain_panel(page, run, label, name, port)
                    live_traffic(page, run, label, name, chart=index == 0)
                    traffic_settings(page, run, label)
                    sign_out(page, run, label)
                    # Refused requests log console errors by design (the 422s); scripts must not fail.
                    script_errors = [e for e in errors if "Failed to load resource" not in e]
                    assert not script_errors, f"script errors: {script_errors}"
                    run.check(f"{label}: no script error and no CSP violation")
                except (AssertionError, PlaywrightError):
                    shot(page, args, f"{label}-FAILED")
                    raise
                finally:
                    context.close()
        finally:
            browser.close()
    print(f"browser-tests: {len(run.passed)} checks passed in {len(VIEWPORTS)} viewports", flush=True)


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, PlaywrightError):
        traceback.print_exc()
        print("browser-tests: FAILED", file=sys.stderr)
        sys.exit(1)
