"""Layout promises the HTML itself must keep (the browser tests measure the rest): error
pages keep the navigation, wide tables sit in their own scroll container, and the
"Tokens" links of a row read as links."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tests.web.console.conftest import ConsoleWorld, crawl

MAIN_NAV = '<nav class="mainnav" aria-label="Main">'
ACCOUNT_MENU = '<details class="account-menu">'


class Tables(HTMLParser):
    """For each <table>: the classes of its parent element."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.parents: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("input", "br", "meta", "link", "img", "hr", "col", "source"):
            return
        if tag == "table":
            self.parents.append(self.stack[-1] if self.stack else "")
        self.stack.append(f"{tag}.{dict(attrs).get('class') or ''}")

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i].split(".", 1)[0] == tag:
                del self.stack[i:]
                return


def test_404_keeps_the_navigation_when_signed_in(cw: ConsoleWorld) -> None:
    response = cw.browser("owner").get("/console/no-such-page")
    assert response.status_code == 404
    assert "There is no such page." in response.text
    assert MAIN_NAV in response.text and ACCOUNT_MENU in response.text
    assert 'action="/console/logout"' in response.text  # the menu works (its CSRF token)

    # A project the person may not see: the same page, still with the navigation.
    response = cw.browser("other_admin").get(f"/console/projects/{cw.pid}")
    assert response.status_code == 404
    assert MAIN_NAV in response.text


def test_404_without_a_session_has_no_navigation(cw: ConsoleWorld) -> None:
    response = cw.browser().get("/console/no-such-page")
    assert response.status_code == 404
    assert "There is no such page." in response.text
    assert MAIN_NAV not in response.text and ACCOUNT_MENU not in response.text


def test_refused_form_page_keeps_the_navigation(cw: ConsoleWorld) -> None:
    browser = cw.browser("owner")
    response = browser.post(f"/console/projects/{cw.pid}/variables", {"name": "X"}, csrf=False)
    assert response.status_code == 403
    assert MAIN_NAV in response.text


def test_every_table_scrolls_in_its_own_container(cw: ConsoleWorld) -> None:
    pages = {}
    for actor in ("owner", "platform_admin"):
        pages.update(crawl(cw.browser(actor)))
    tables = 0
    for url, html in pages.items():
        parser = Tables()
        parser.feed(html)
        assert all(p == "div.table-scroll" for p in parser.parents), (url, parser.parents)
        tables += len(parser.parents)
    assert tables > 20


def test_the_activity_feed_takes_the_whole_row_beside_a_sidebar(cw: ConsoleWorld) -> None:
    """In the sidebar column the feed's time column was cut off (issue 14)."""
    owner = cw.browser("owner")
    for url in (f"/console/projects/{cw.pid}", f"/console/projects/{cw.pid}/environments/main"):
        html = owner.get(url).text
        card = re.search(r'<section class="([^"]*)">\s*<h2>Activity</h2>', html)
        assert card is not None, url
        assert "wide" in card.group(1).split(), url


TOKENS_LINK = re.compile(r'<a ([^>]*)href="[^"]*/settings/api-tokens(?:\?[^"]*)?"[^>]*>Tokens</a>')


def test_tokens_links_are_styled_as_links(cw: ConsoleWorld) -> None:
    pages = [
        (cw.browser("platform_admin"), f"/console/projects/{cw.pid}/settings/users"),
        (cw.browser("platform_admin"), "/console/accounts"),
    ]
    for browser, url in pages:
        html = browser.get(url).text
        links = TOKENS_LINK.findall(html)
        assert links, url
        for attrs in links:
            classes = re.search(r'class="([^"]*)"', attrs)
            assert classes is not None and classes.group(1).split() == ["text-link"], attrs
