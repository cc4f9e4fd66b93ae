"""Issue #11's acceptance: the console at /elements/api-v2/console, in a real browser.

Debian's Chromium (`make chromium`, which `make test` runs first) driven by Playwright over the local
stack; only loopback is reached: every other request the page would make is aborted inside the browser,
and Intercom's consent page is the simulated Intercom's (the stack's INTERCOM_API_BASE_URL). Each step leaves
a screenshot in tests/e2e/screenshots/ (gitignored).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from local.intercom import make_notification, send_webhook
from local.stack import LocalStack
from tests.e2e.conftest import CLIENT_ID, CLIENT_SECRET, SIGNATURE_KEY

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
WAIT_MS = 45_000  # for what the stack does in the background: deliveries, retries, polls

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's chromium package")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, stack: LocalStack) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})

    def loopback_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            route.abort()

    # The consent page is the simulated Intercom's (INTERCOM_API_BASE_URL), which agrees at once.
    context.route("**/*", loopback_only)
    opened = context.new_page()
    yield opened
    context.close()


def console_url(stack: LocalStack) -> str:
    return f"{stack.api_url}/console"


def snap(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, stack: LocalStack) -> None:
    page.goto(console_url(stack))
    page.get_by_label("User secret").fill(stack.environment["USER_SECRET"])
    page.get_by_label("Organization secret").fill(stack.environment["ORGANIZATION_SECRET"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Instances")).to_be_visible()


def open_form(page: Page) -> None:
    page.get_by_role("link", name="New instance").first.click()
    expect(page.get_by_role("heading", name="New Intercom instance")).to_be_visible()


def fill_webhook_form(page: Page, name: str, callback_url: str) -> None:
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("OAuth API key").fill(CLIENT_ID)
    page.get_by_label("OAuth API secret").fill(CLIENT_SECRET)
    page.get_by_label("Event type").select_option("webhook")
    page.get_by_label("Callback URL").fill(callback_url)
    page.get_by_label("Signature key").fill(SIGNATURE_KEY)


def create_webhook_instance(page: Page, stack: LocalStack, receiver: Any, name: str) -> str:
    """Through the form and Intercom's consent; returns the Webhook URL the instance page shows."""
    stack.intercom.register_app(CLIENT_ID, CLIENT_SECRET)
    sign_in(page, stack)
    open_form(page)
    fill_webhook_form(page, name, f"{receiver.url}/events")
    page.get_by_role("button", name="Create instance").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    webhook_url = page.locator("#webhook-url").inner_text()
    assert webhook_url.startswith(f"{stack.api_url}/events/intercom/")
    return webhook_url


def event_rows(page: Page, status: str | None = None) -> Any:
    selector = "#event-table tbody tr" + (f"[data-status={status}]" if status else "")
    return page.locator(selector)


def notify(webhook_url: str, object_id: str) -> dict[str, Any]:
    notification = make_notification("contact.user.created", {"type": "contact", "id": object_id}, app_id="a")
    assert send_webhook(webhook_url, notification, CLIENT_SECRET).status_code == 200
    return notification


def test_the_console_is_served_without_authorization_and_allows_nothing_from_elsewhere(stack):
    page = httpx.get(console_url(stack))
    script = httpx.get(f"{console_url(stack)}/console.js")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    for answer in (page, script):
        policy = answer.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(f"{console_url(stack)}/app.py").status_code == 404


def test_a_webhook_instance_made_in_the_console_shows_its_delivered_event(page, stack, receiver):
    stack.intercom.register_app(CLIENT_ID, CLIENT_SECRET)
    sign_in(page, stack)
    snap(page, "01-instances")
    open_form(page)
    fill_webhook_form(page, "Support inbox", f"{receiver.url}/events")
    snap(page, "02-create-webhook-form")

    page.get_by_role("button", name="Create instance").click()  # to Intercom's consent page and back

    expect(page.get_by_role("heading", name="Support inbox")).to_be_visible()
    assert "code=" not in page.url  # the authorization code is taken off the address
    config = page.locator("#instance-config")
    expect(config).to_contain_text("********")
    content = page.content()
    assert CLIENT_SECRET not in content and SIGNATURE_KEY not in content
    stored = page.evaluate("JSON.stringify(Object.assign({}, sessionStorage))")
    assert CLIENT_SECRET not in stored  # the pending create left with the round trip
    expect(page.locator("#token-card")).to_be_visible()  # the instance token, this once

    webhook_url = page.locator("#webhook-url").inner_text()
    assert webhook_url.startswith(f"{stack.api_url}/events/intercom/")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy the Webhook URL").click()
    assert page.evaluate("navigator.clipboard.readText()") == webhook_url
    snap(page, "03-webhook-instance")

    notify(webhook_url, "c-console-1")

    delivered = event_rows(page, "delivered")
    expect(delivered).to_have_count(1, timeout=WAIT_MS)  # the log refreshes by itself
    expect(delivered).to_contain_text("HTTP 200")
    receiver.wait_for(1, timeout=30)
    assert delivered.get_attribute("data-event-id") == receiver.requests[0].header("webhook-id")
    snap(page, "04-event-delivered")


def test_an_opened_event_shows_the_callback_and_each_attempt(page, stack, receiver):
    webhook_url = create_webhook_instance(page, stack, receiver, "Attempts")
    notify(webhook_url, "c-console-2")
    expect(event_rows(page, "delivered")).to_have_count(1, timeout=WAIT_MS)

    event_rows(page).get_by_role("button", name="Open event").click()

    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("delivered")
    snap(page, "05-event-opened")
    if dialog.get_by_text("does not answer an event's attempts yet").is_visible():
        pytest.skip("GET /instances/{id}/events/{eventId} (H5's route) is not served yet")
    expect(dialog.locator("#attempt-table tbody tr")).to_have_count(1)
    expect(dialog.locator("#attempt-table")).to_contain_text("HTTP 200")
    expect(dialog).to_contain_text(f"{receiver.url}/events")  # the callback as sent
    expect(dialog).to_contain_text("c-console-2")


def test_a_failing_receiver_shows_retrying_and_the_retry_button_delivers_once_it_recovers(
    page, stack, receiver
):
    webhook_url = create_webhook_instance(page, stack, receiver, "Flaky receiver")
    receiver.respond_with([500, 500, 500])  # then 200: the receiver recovers
    notify(webhook_url, "c-console-3")

    receiver.wait_for(3, timeout=WAIT_MS / 1000)  # at once, again at once, after about 5 s
    row = event_rows(page, "retrying")
    expect(row).to_have_count(1, timeout=WAIT_MS)
    expect(row).to_contain_text("HTTP 500")
    expect(row.locator("td.num")).to_have_text("3", timeout=WAIT_MS)
    snap(page, "06-event-retrying")

    row.get_by_role("button", name="Retry event").click()

    expect(event_rows(page, "delivered")).to_have_count(1, timeout=WAIT_MS)
    snap(page, "07-event-retried")
    ids = {request.header("webhook-id") for request in receiver.requests}
    assert len(receiver.requests) == 4 and len(ids) == 1  # the same event, the fourth time delivered


def test_a_polling_instance_polls_now_and_shows_its_events_and_status(page, stack, receiver):
    token = stack.intercom.issue_token()
    sign_in(page, stack)
    open_form(page)
    page.get_by_label("Name", exact=True).fill("Contacts poller")
    page.get_by_role("radio", name="Access token").check()
    page.get_by_label("Access token", exact=True).fill(token)
    page.get_by_label("Event type").select_option("polling")
    page.get_by_label("Callback URL").fill(f"{receiver.url}/events")
    page.get_by_label("Resources to poll").fill("contacts")
    page.get_by_label("Refresh interval").fill("1")
    snap(page, "08-create-polling-form")
    page.get_by_role("button", name="Create instance").click()
    expect(page.get_by_role("heading", name="Contacts poller")).to_be_visible()
    expect(page.locator("#poller-card")).to_be_visible()

    time.sleep(1.1)  # Intercom counts whole seconds: the contacts must be newer than the instance
    for n in range(2):
        stack.intercom.workspace.create("contacts", email=f"console{n}@example.com")
    page.get_by_role("button", name="Poll now").click()
    expect(page.get_by_role("status")).to_contain_text("Poll scheduled")

    expect(event_rows(page, "delivered")).to_have_count(1, timeout=WAIT_MS)  # two contacts, one callback
    expect(event_rows(page)).to_contain_text("contacts")
    expect(page.locator("#poller-status")).to_contain_text("done", timeout=WAIT_MS)
    snap(page, "09-polling-events")

    page.get_by_role("button", name="Disable").click()
    expect(page.locator("#instance-state")).to_have_text("disabled")
    instance_id = page.url.rsplit("/", 1)[1]
    env = stack.environment
    authorization = f"User {env['USER_SECRET']}, Organization {env['ORGANIZATION_SECRET']}"
    answer = httpx.get(f"{stack.api_url}/instances/{instance_id}", headers={"Authorization": authorization})
    assert answer.json()["disabled"] is True
    page.get_by_role("button", name="Enable").click()
    expect(page.locator("#instance-state")).to_have_text("enabled")


def test_the_apis_validation_messages_appear_beside_their_fields(page, stack, receiver):
    sign_in(page, stack)
    open_form(page)
    page.get_by_label("Name", exact=True).fill("Bad interval")
    page.get_by_role("radio", name="Access token").check()
    page.get_by_label("Access token", exact=True).fill(stack.intercom.issue_token())
    page.get_by_label("Event type").select_option("polling")
    page.get_by_label("Callback URL").fill(f"{receiver.url}/events")
    page.get_by_label("Refresh interval").fill("0")

    page.get_by_role("button", name="Create instance").click()

    interval = page.get_by_label("Refresh interval")
    expect(interval).to_have_attribute("aria-invalid", "true")
    message = page.locator("[data-field='configuration.event.poller.refresh_interval'] .field-error")
    expect(message).to_be_visible()
    expect(page.get_by_role("heading", name="New Intercom instance")).to_be_visible()  # still the form
    snap(page, "10-validation-message")
