"""The labeling page in a real browser: Playwright driving Debian's Chromium.

Loads the page, plays the clip, chooses per instrument (mouse and keyboard), submits, skips,
and checks the rows in SQLite. Chromium comes from scripts/system-packages-label.txt
(Playwright's own browser download is not used).
"""

from __future__ import annotations

import os
import re
import shutil
import struct
from pathlib import Path

import pytest

from tagger import taxonomy
from tagger.store import Store
from test_label_support import make_store, running_server

CHROMIUM = os.environ.get("TAGGER_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Chromium is not installed (scripts/install-system-packages.sh "
                "scripts/system-packages-label.txt)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="playwright is not installed (pip install -e '.[test]')")
expect = sync_api.expect

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def labels_of(db: Path, track_id: int, start: float) -> dict[str, str]:
    with Store(db) as store:
        rows = store.conn.execute(
            "SELECT instrument, role FROM labels WHERE track_id = ? AND start = ?",
            (track_id, start)).fetchall()
    return dict(rows)


def skips(db: Path) -> list[tuple[int, float]]:
    with Store(db) as store:
        return store.conn.execute(
            "SELECT track_id, start FROM label_skips ORDER BY id").fetchall()


def test_label_page_end_to_end(tmp_path: Path) -> None:
    db, _ = make_store(tmp_path)
    problems: list[str] = []
    with running_server(db) as server, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
            page.goto(server.url)

            # Loaded: the most uncertain clip first, its spectrogram, the counter, the advice.
            expect(page.locator("#track")).to_have_text("track 1.wav")
            expect(page.locator("#time")).to_have_text("0:05 – 0:10")
            expect(page.locator("#count-remaining")).to_have_text("9")
            expect(page.locator("#count-labeled")).to_have_text("0")
            expect(page.locator("#skip-advice")).to_contain_text("skip when you can't tell")
            page.wait_for_function("() => document.getElementById('spectrogram').naturalWidth > 0")
            page.wait_for_function("() => document.getElementById('audio').readyState >= 2")
            expect(page.locator('.row[data-instrument="piano"] .guess')).to_contain_text("50%")

            # Play with the button, pause with Space.
            page.click("#play")
            page.wait_for_function("() => document.getElementById('audio').currentTime > 0.1")
            page.keyboard.press("Space")
            page.wait_for_function("() => document.getElementById('audio').paused")
            expect(page.locator("#play-label")).to_have_text("Play")

            # Submit stays disabled until every instrument has a choice.
            submit = page.locator("#submit")
            expect(submit).to_be_disabled()
            page.click('.row[data-instrument="voice"] label:has(input[value="foreground"])')
            page.click('.row[data-instrument="piano"] label:has(input[value="background"])')
            expect(submit).to_be_disabled()
            expect(page.locator("#skip")).to_be_enabled()
            page.click('.row[data-instrument="saxophone"] label:has(input[value="none"])')
            expect(submit).to_be_enabled()
            submit.click()
            expect(page.locator("#count-labeled")).to_have_text("1")
            expect(page.locator("#count-remaining")).to_have_text("8")
            assert labels_of(db, 2, 5.0) == {"voice": "foreground", "piano": "background",
                                             "saxophone": "none"}

            # The next clip starts with no choices; Skip records a skip.
            expect(page.locator("#track")).to_have_text("track 2.wav")
            expect(page.locator("#rows input:checked")).to_have_count(0)
            expect(submit).to_be_disabled()
            page.click("#skip")
            expect(page.locator("#count-skipped")).to_have_text("1")
            assert skips(db) == [(3, 0.0)]

            # Keyboard only: 1 = foreground (and move on), ArrowDown, b = background, 0 = rest none.
            expect(page.locator("#time")).to_have_text("0:05 – 0:10")
            page.keyboard.press("1")
            expect(page.locator('.row[data-instrument="piano"]')).to_have_attribute("aria-current", "true")
            page.keyboard.press("ArrowDown")
            page.keyboard.press("b")
            expect(submit).to_be_disabled()
            page.keyboard.press("0")
            expect(submit).to_be_enabled()
            page.keyboard.press("Enter")
            expect(page.locator("#count-labeled")).to_have_text("2")
            assert labels_of(db, 3, 5.0) == {"voice": "foreground", "piano": "none",
                                             "saxophone": "background"}
            page.keyboard.press("s")
            expect(page.locator("#count-skipped")).to_have_text("2")
            assert skips(db) == [(3, 0.0), (3, 10.0)]
            expect(page.locator("#track")).to_have_text("track 0.wav")

            # Enter with choices missing does not submit; it says why.
            page.keyboard.press("3")
            page.keyboard.press("Enter")
            expect(page.locator("#status")).to_contain_text("every instrument")
            expect(page.locator("#count-labeled")).to_have_text("2")

            # A reload keeps the counters (they come from SQLite) and the current clip.
            page.reload()
            expect(page.locator("#count-labeled")).to_have_text("2")
            expect(page.locator("#count-skipped")).to_have_text("2")
            expect(page.locator("#track")).to_have_text("track 0.wav")
        finally:
            browser.close()
    assert problems == []


def test_every_control_fits_1280x900_with_14_instruments(tmp_path: Path) -> None:
    """Submit, Skip, the one Play button and every instrument's choices are on screen without
    scrolling; the guesses are labelled; the spectrogram has a time axis under it."""
    db, _ = make_store(tmp_path, classes=taxonomy.CLASSES)
    problems: list[str] = []
    with running_server(db) as server, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.goto(server.url)
            expect(page.locator("#track")).to_have_text("track 1.wav")
            expect(page.locator("#rows .row")).to_have_count(len(taxonomy.CLASSES))
            page.wait_for_function("() => document.getElementById('spectrogram').naturalWidth > 0")
            page.wait_for_function("() => document.getElementById('audio').readyState >= 1")

            # Everything to press is inside the first screen (ratio=1: wholly inside).
            last_choice = "#rows .row:last-child input[value=none] + span"
            for selector in ["#submit", "#skip", "#play", last_choice, "#spectrogram",
                             "#time-axis"]:
                expect(page.locator(selector)).to_be_in_viewport(ratio=1)
            assert page.evaluate("window.scrollY") == 0

            # One play control: our button; the <audio> element has no controls of its own.
            assert page.locator("audio[controls], video[controls]").count() == 0
            players = page.get_by_role("button", name=re.compile(r"play|pause|start", re.I))
            expect(players).to_have_count(1)
            expect(players).to_have_id("play")

            # The two numbers per row are named by their column heads (and for screen readers).
            head = page.locator(".row.head")
            expect(head).to_contain_text("model: playing")
            expect(head).to_contain_text("model: lead")
            piano = page.locator('.row[data-instrument="piano"]')
            expect(piano.locator(".guess")).to_have_text("50%")
            expect(piano.locator(".lead")).to_have_text("25%")
            expect(piano.locator(".lead")).to_have_attribute("aria-label", "model: piano lead 25%")

            # A time axis under the spectrogram, from the clip's start to its end, left to right.
            ticks = page.locator("#time-axis span")
            texts = ticks.all_inner_texts()
            assert texts == ["0:05", "0:06", "0:07", "0:08", "0:09", "0:10"]
            image = page.locator("#spectrogram").bounding_box()
            boxes = [t.bounding_box() for t in ticks.all()]
            assert all(b["y"] >= image["y"] + image["height"] - 1 for b in boxes)
            assert abs(boxes[0]["x"] - image["x"]) < 3
            assert abs(boxes[-1]["x"] + boxes[-1]["width"] - image["x"] - image["width"]) < 3
            assert [b["x"] for b in boxes] == sorted(b["x"] for b in boxes)
            expect(page.locator("#freq-axis span").first).to_have_text("100")

            # A click on the spectrogram moves the playhead there.
            page.locator("#figure").click(position={"x": image["width"] * 0.6, "y": 20})
            page.wait_for_function(
                "() => Math.abs(document.getElementById('audio').currentTime - 3) < 0.3")
            expect(page.locator("#position")).to_contain_text("/ 0:05.0")

            shot = tmp_path / "label-1280x900.png"
            page.screenshot(path=str(shot))
            data = shot.read_bytes()
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
            assert struct.unpack(">II", data[16:24]) == (1280, 900)
            if os.environ.get("TAGGER_TEST_SHOTS"):  # keep a copy to look at
                shutil.copy(shot, Path(os.environ["TAGGER_TEST_SHOTS"]) / shot.name)
        finally:
            browser.close()
    assert problems == []
