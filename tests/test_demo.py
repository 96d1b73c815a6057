"""``vvt demo``: the Gradio page driven in a real headless Chromium (Selenium and Debian's chromium-driver), and
its handler's readable errors."""

from __future__ import annotations

import base64
import os
import shutil
import socket

import numpy as np
import pytest

from vvt.examples import load_example

pytestmark = [
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype:UserWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")
#: fetch a URL in the page and hand its bytes back as base64
FETCH = """
const done = arguments[arguments.length - 1];
fetch(arguments[0]).then(r => r.arrayBuffer()).then(buffer => {
  const bytes = new Uint8Array(buffer);
  let text = "";
  for (let i = 0; i < bytes.length; i += 1) text += String.fromCharCode(bytes[i]);
  done(btoa(text));
}).catch(e => done("ERROR " + e));
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bad_uploads_give_one_readable_line(tmp_path):
    import gradio as gr  # in the dev extra: a missing Gradio fails, never skips

    from vvt.demo import make_handler
    from vvt.io import write_image

    handle = make_handler(None, "cpu", tmp_path)
    blank = tmp_path / "blank.png"
    write_image(blank, np.full((64, 48, 3), 255, np.uint8))
    not_video = tmp_path / "clip.mp4"
    not_video.write_bytes(b"not a video")
    from vvt.examples import example_path

    garment = str(example_path("garment"))
    cases = [
        ((None, garment, "upper", 2, 0, False), "Upload a person video"),
        ((str(example_path("person")), None, "upper", 2, 0, False), "Upload a garment photo"),
        ((None, str(blank), "upper", 2, 0, True), "blank"),
        ((str(not_video), garment, "upper", 2, 0, False), "clip.mp4"),
    ]
    for inputs, expected in cases:
        with pytest.raises(gr.Error) as err:
            handle(*inputs, progress=lambda *a, **k: None)
        message = str(err.value.message if hasattr(err.value, "message") else err.value)
        assert expected in message and "\n" not in message and "Traceback" not in message


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    from vvt.demo import launch

    port = _free_port()
    demo = launch("127.0.0.1", port, share=False, device="cpu", block=False)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("no browser installed: the end-to-end demo test needs Debian's chromium and chromium-driver "
                    "(apt-get install -y chromium chromium-driver; .ci/run installs them)")
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not look anything up online
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
                 "--window-size=1280,1600"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.mark.slow
def test_demo_in_a_real_browser(server, browser, tmp_path):
    """Load the page, pick the example, start, wait for the result video, check that the file the page serves
    decodes to the input's frame count."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from vvt.demo import IDS
    from vvt.io import read_video

    browser.get(server)
    wait = WebDriverWait(browser, 60)
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, f"#{IDS['example']}"))).click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f"#{IDS['video']} video")))
    # fewer steps: the slider's number box
    steps = browser.find_elements(By.CSS_SELECTOR, "input[type=number]")[0]
    steps.clear()
    steps.send_keys("2")
    browser.find_element(By.CSS_SELECTOR, f"#{IDS['run']}").click()

    def result_src(driver):
        videos = driver.find_elements(By.CSS_SELECTOR, f"#{IDS['result']} video")
        return videos[0].get_attribute("src") if videos else None

    src = WebDriverWait(browser, 300).until(result_src)
    assert src.startswith((server.rstrip("/"), "blob:")), src  # served by the demo, nothing from outside
    browser.set_script_timeout(60)
    encoded = browser.execute_async_script(FETCH, src)  # the bytes the page plays, fetched by the page
    assert not encoded.startswith("ERROR"), encoded
    data = base64.b64decode(encoded)
    served = tmp_path / "served.mp4"
    served.write_bytes(data)
    frames, _ = read_video(served)
    assert frames.shape[0] == load_example().conditions.person.shape[0]
    assert "Traceback" not in browser.page_source
