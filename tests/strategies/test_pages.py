"""The strategies pages: the list with its create form, one strategy's page (webhook,
secret shown once, alert and curl examples, pause/resume, rotate), and the orders' links
back to the strategy that placed them."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal as D

import pytest
from django.test import Client

from orders.models import Order
from strategies import services
from strategies.models import Strategy
from tests.factories import DEFAULT_PASSWORD, UserFactory, account_with_member
from tests.strategies.conftest import sign

pytestmark = pytest.mark.django_db


def _browser(user) -> Client:
    browser = Client()
    assert browser.login(username=user.username, password=DEFAULT_PASSWORD)
    return browser


@pytest.fixture
def browser(trader) -> Client:
    return _browser(trader)


@pytest.fixture
def stranger(acme):
    """Another trader with an account and a strategy of their own."""
    user = UserFactory(username="stranger")
    account = account_with_member(user=user, name="Stranger's")
    issued = services.strategy_create(
        user=user,
        name="Secret sauce",
        accounts=[{"account": str(account.pk), "sizing": {"type": "fixed_qty", "qty": "1"}}],
    )
    return user, account, issued.strategy


def _form(accounts_rows, **fields) -> dict[str, str]:
    """The create form as the page posts it: one member row per listed account."""
    data = {
        "name": "Breakout",
        "direction": "both",
        "order_type": "market",
        "time_in_force": "day",
        "product": "delivery",
        "replay_window_seconds": "60",
        "m-TOTAL_FORMS": str(len(accounts_rows)),
        "m-INITIAL_FORMS": str(len(accounts_rows)),
        "m-MIN_NUM_FORMS": "0",
        "m-MAX_NUM_FORMS": "500",
    }
    for index, (account_id, include, sizing_type, amount) in enumerate(accounts_rows):
        data[f"m-{index}-account"] = str(account_id)
        data[f"m-{index}-sizing_type"] = sizing_type
        data[f"m-{index}-amount"] = amount
        if include:
            data[f"m-{index}-include"] = "on"
    data.update(fields)
    return data


def test_pages_need_a_login():
    response = Client().get("/strategies/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_list_shows_only_my_strategies_with_their_last_signal(
    browser, accounts, make_strategy, send, stranger
):
    # given my strategy on two accounts that took one signal, and a stranger's strategy
    alpha, beta, _ = accounts
    mine = make_strategy(
        [(alpha, {"type": "fixed_qty", "qty": "5"}), (beta, {"type": "fixed_qty", "qty": "0.5"})],
        name="Trend",
    )
    assert send(mine, {"symbol": "ACME", "action": "buy"}).status_code == 202
    # when I open the list
    html = browser.get("/strategies/").content.decode()
    # then my strategy is there with its accounts and the outcome (beta's 0.5 rounds to 0)
    assert f'href="/strategies/{mine["id"]}/"' in html and "Trend" in html
    assert '<td class="num">2</td>' in html
    assert "1 of 2 placed" in html and "badge-signal-done" in html
    # and the stranger's is not
    assert "Secret sauce" not in html and str(stranger[2].pk) not in html
    # and I may create one (menu item and form)
    assert 'id="strategy-form"' in html and 'href="/strategies/"' in html


def test_someone_elses_strategy_is_404_everywhere(browser, stranger):
    _, _, theirs = stranger
    assert browser.get(f"/strategies/{theirs.pk}/").status_code == 404
    for action in ("pause", "rotate-secret", "delete"):
        response = browser.post(f"/strategies/{theirs.pk}/{action}/", {"paused": "1"})
        assert response.status_code == 404, action
    theirs.refresh_from_db()
    assert not theirs.paused and theirs.deleted_at is None


def test_creating_through_the_form_shows_the_secret_once(browser, trader, accounts):
    alpha, beta, gamma = accounts
    # when I create a strategy trading alpha (fixed 10) and gamma (1% of equity), not beta
    form = _form(
        [
            (alpha.pk, True, "fixed_qty", "10"),
            (beta.pk, False, "fixed_qty", ""),
            (gamma.pk, True, "equity_pct", "1"),
        ],
        symbols="NSE:ACME = acme",
        take_profit_kind="pct",
        take_profit="2",
        max_position="100",
    )
    response = browser.post("/strategies/", form)
    # then it exists with those members and settings, and I land on its page
    strategy = Strategy.objects.get(owner=trader)
    assert response.status_code == 302 and response["Location"] == f"/strategies/{strategy.pk}/"
    members = {m.account_id: m.sizing for m in strategy.members.all()}
    assert members == {
        alpha.pk: {"type": "fixed_qty", "qty": "10"},
        gamma.pk: {"type": "equity_pct", "pct": "1"},
    }
    assert strategy.symbols == {"NSE:ACME": "ACME"}
    assert strategy.defaults["take_profit"] == {"pct": "2"}
    assert strategy.max_position == D("100")
    # and the page shows the secret once, which signs signals for this strategy
    html = browser.get(response["Location"]).content.decode()
    assert 'id="secret-once"' in html
    secret = html.split('id="webhook-secret">', 1)[1].split("</pre>", 1)[0]
    raw = b'{"symbol": "ACME", "action": "buy"}'
    assert services.signal_authenticate(
        strategy_id=strategy.pk, raw_body=raw, signature=sign(secret, raw)
    )
    assert f'"secret": "{secret}"' in html.replace("&quot;", '"')  # in the alert template
    # and never again
    again = browser.get(response["Location"]).content.decode()
    assert 'id="secret-once"' not in again and secret not in again


def test_the_form_refuses_an_account_i_may_only_view(browser, trader, accounts):
    watched = account_with_member(user=trader, role="view", name="Watched")
    response = browser.post("/strategies/", _form([(watched.pk, True, "fixed_qty", "1")]))
    assert response.status_code == 400
    assert "You may not trade on account" in response.content.decode()
    assert not Strategy.objects.exists()


def test_the_form_refuses_someone_elses_account(browser, accounts, stranger):
    _, their_account, _ = stranger
    rows = [(accounts[0].pk, True, "fixed_qty", "1"), (their_account.pk, True, "fixed_qty", "1")]
    response = browser.post("/strategies/", _form(rows))
    assert response.status_code == 400
    assert f"You may not trade on account {their_account.pk}" in response.content.decode()
    assert not Strategy.objects.filter(name="Breakout").exists()


def test_the_form_names_bad_input_and_keeps_it(browser, accounts):
    rows = [(accounts[0].pk, True, "fixed_qty", ""), (accounts[1].pk, False, "fixed_qty", "")]
    form = _form(rows, symbols="ACME NOPE", window_start="09:15")
    html = browser.post("/strategies/", form).content.decode()
    assert "Required for an account that trades." in html
    assert "Line 1: write ALERT_TICKER = OUR_SYMBOL." in html
    assert 'value="Breakout"' in html
    # with no account chosen at all
    html = browser.post("/strategies/", _form(rows[1:])).content.decode()
    assert "Choose at least one account to trade." in html
    # the service's own rules land on the form too (unknown symbol, half a window)
    rows = [(accounts[0].pk, True, "fixed_qty", "1")]
    html = browser.post("/strategies/", _form(rows, symbols="X = NOPE")).content.decode()
    assert "Unknown symbol" in html
    html = browser.post("/strategies/", _form(rows, window_start="09:15")).content.decode()
    assert "Give both window_start and window_end, or neither." in html
    assert not Strategy.objects.exists()


def test_a_viewer_sees_no_create_controls_and_cannot_post(acme):
    viewer = UserFactory(username="viewer1", role="viewer")
    account_with_member(user=viewer, role="view")
    browser = _browser(viewer)
    html = browser.get("/strategies/").content.decode()
    assert 'id="strategy-form"' not in html and "New strategy" not in html
    assert browser.post("/strategies/", {"name": "x"}).status_code == 403


def test_the_detail_page_shows_webhook_alert_template_and_a_working_curl(
    browser, accounts, make_strategy
):
    strategy = make_strategy([(accounts[0], {"type": "equity_pct", "pct": "2", "max_qty": "50"})])
    html = browser.get(f"/strategies/{strategy['id']}/").content.decode()
    assert f"http://testserver/api/v1/signals/{strategy['id']}" in html
    assert "2.00% of equity, max 50" in html
    text = html.replace("&quot;", '"').replace("&#x27;", "'")
    assert '"symbol": "{{ticker}}"' in text and '"action": "{{strategy.order.action}}"' in text
    assert '"position": "{{strategy.position_size}}"' in text
    assert '"secret": "<your webhook secret>"' in text.replace("&lt;", "<").replace("&gt;", ">")
    assert 'id="strategy-signals"' in html and "js/strategies/detail.js" in html
    # the curl example's signature line computes what the server checks
    curl = text.split('id="curl-example">', 1)[1].split("</pre>", 1)[0]
    curl = curl.replace("&lt;your webhook secret&gt;", "s3cret")
    script = "\n".join(line for line in curl.splitlines() if not line.startswith(("curl", "  -")))
    out = subprocess.run(
        ["bash", "-c", script + '\nprintf "%s\\n%s" "$BODY" "$SIG"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    body, signature = out[0], out[1]
    assert json.loads(body)["action"] == "buy"
    assert signature == sign("s3cret", body.encode())


def test_pause_resume_and_rotate_from_the_page(browser, accounts, make_strategy, send):
    strategy = make_strategy([(accounts[0], {"type": "fixed_qty", "qty": "1"})])
    url = f"/strategies/{strategy['id']}/"
    # pause: signals are refused
    assert browser.post(url + "pause/", {"paused": "1"})["Location"] == url
    html = browser.get(url).content.decode()
    assert 'id="strategy-status">paused' in html and ">Resume</button>" in html
    assert send(strategy, {"symbol": "ACME", "action": "buy"}).status_code == 409
    # resume: taken again
    browser.post(url + "pause/", {"paused": "0"})
    assert 'id="strategy-status">active' in browser.get(url).content.decode()
    assert send(strategy, {"symbol": "ACME", "action": "buy"}).status_code == 202
    # rotate: a new secret shown once; the old one no longer signs
    browser.post(url + "rotate-secret/")
    html = browser.get(url).content.decode()
    new_secret = html.split('id="webhook-secret">', 1)[1].split("</pre>", 1)[0]
    assert new_secret != strategy["webhook_secret"]
    assert send(strategy, {"symbol": "ACME", "action": "sell"}).status_code == 401
    ok = send(strategy, {"symbol": "ACME", "action": "sell"}, secret=new_secret)
    assert ok.status_code == 202


def test_orders_link_back_to_their_strategy_and_signal(
    browser, trader, accounts, make_strategy, send, stranger, django_capture_on_commit_callbacks
):
    # given an order placed by my strategy's signal
    strategy = make_strategy([(accounts[0], {"type": "fixed_qty", "qty": "3"})], name="Trend")
    signal_id = send(strategy, {"symbol": "ACME", "action": "buy"}).json()["signal_id"]
    order = Order.objects.get(account=accounts[0])
    # then its page names the strategy and links to the signal in its log
    html = browser.get(f"/orders/{order.pk}/").content.decode()
    assert 'id="order-strategy"' in html
    assert f'href="/strategies/{strategy["id"]}/#signal-{signal_id}">Trend</a>' in html
    # and the blotter's look-up returns the link for it, and nothing for others' orders
    _, their_account, theirs = stranger
    with django_capture_on_commit_callbacks(execute=True):
        their_signal = services.signal_receive(
            strategy=theirs, raw_body=b'{"symbol": "ACME", "action": "buy"}'
        )
    assert their_signal.status == 202
    their_orders = [str(o.pk) for o in Order.objects.filter(account=their_account)]
    assert their_orders  # linked to their strategy, not to be shown to me
    ids = ",".join([str(order.pk), "not-a-uuid", *their_orders])
    links = browser.get(f"/strategies/order-links/?ids={ids}").json()["links"]
    assert links == {
        str(order.pk): {
            "strategy": strategy["id"],
            "strategy_name": "Trend",
            "signal": signal_id,
            "own": True,
        }
    }
    # and the blotter loads the look-up script
    assert "js/strategies/order_links.js" in browser.get("/orders/").content.decode()


def test_an_order_of_a_strategy_someone_else_owns_shows_its_name_without_a_link(
    trader, accounts, make_strategy, send
):
    # given a trader on my account (not the strategy's owner)
    colleague = UserFactory(username="colleague")
    from accounts.models import AccountMembership

    AccountMembership.objects.create(user=colleague, account=accounts[0], role="trade")
    strategy = make_strategy([(accounts[0], {"type": "fixed_qty", "qty": "3"})], name="Trend")
    send(strategy, {"symbol": "ACME", "action": "buy"})
    order = Order.objects.get(account=accounts[0])
    html = _browser(colleague).get(f"/orders/{order.pk}/").content.decode()
    assert 'id="order-strategy"' in html and "strategy Trend," in html
    assert f"/strategies/{strategy['id']}/" not in html


def test_a_refused_signal_is_in_the_log_and_delete_takes_the_strategy_off_the_list(
    browser, accounts, make_strategy, send
):
    strategy = make_strategy([(accounts[0], {"type": "fixed_qty", "qty": "1"})], name="Trend")
    url = f"/strategies/{strategy['id']}/"
    browser.post(url + "pause/", {"paused": "1"})
    assert send(strategy, {"symbol": "ACME", "action": "buy", "id": "x-1"}).status_code == 409
    # the log's data (drawn by detail.js) carries the refusal and its reason
    html = browser.get(url).content.decode()
    log = json.loads(
        html.split('id="strategy-signals" type="application/json">', 1)[1].split("<", 1)[0]
    )
    assert [(s["status"], s["reason"], s["outcomes"]) for s in log] == [
        ("refused", "The strategy is paused.", [])
    ]
    # and the list says so too
    listed = browser.get("/strategies/").content.decode()
    assert "badge-signal-refused" in listed and "The strategy is paused." in listed
    # delete: back to the list, without it; its page is gone
    response = browser.post(url + "delete/")
    assert response.status_code == 302 and response["Location"] == "/strategies/"
    listed = browser.get("/strategies/").content.decode()
    assert "Strategy “Trend” deleted" in listed and f'href="{url}"' not in listed
    assert browser.get(url).status_code == 404
