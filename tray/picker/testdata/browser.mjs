// Drives chromium over the role picker. Usage: node browser.mjs FILE_URL
// LINK OTHER_ORIGIN_URL STOP_URL: FILE_URL is the tray's private file that
// forwards to the one-time LINK, opened as a desktop opens it; STOP_URL
// stops the picker (rolecall restarted). PICKER_SCREENSHOT=file.png keeps
// a picture of the page after the search, the switch and the star, and
// one (-expired.png) after the stop. Prints one JSON object with what it
// saw; the Go test checks it (and what the picker was asked to do).
import { open } from "./chromium.mjs";

const [file, link, other, stop] = process.argv.slice(2);
const out = {};
const { browser, page } = await open(file);
try {
  out.url = page.url();
  out.total = await page.locator("#roles li").count();
  // Search as you type: two words, both must match.
  await page.fill("#q", "acct-12 deploy");
  out.found = await page.locator("#roles li .label").allTextContents();
  // Switch: the first result, with Enter.
  await page.press("#q", "Enter");
  await page.waitForSelector("#roles li.loaded");
  out.loaded = await page.locator("#roles li.loaded .label").allTextContents();
  // Star it.
  await page.locator("#roles li.loaded button.star").click();
  await page.waitForSelector("#roles li.loaded button.star:text('★')");
  out.starred = true;
  if (process.env.PICKER_SCREENSHOT) await page.screenshot({ path: process.env.PICKER_SCREENSHOT });
  // The cookie is not readable from the page.
  out.cookieVisible = await page.evaluate(() => document.cookie);
  // The link works once.
  const again = await page.goto(link);
  out.linkAgain = again.status();
  // Another origin (same site, other port): its page tries to switch the
  // role with the user's cookie, as a simple request and as JSON.
  const p2 = await page.context().newPage();
  await p2.goto(other);
  out.crossOrigin = await p2.evaluate(async (target) => {
    const res = {};
    try {
      const r = await fetch(target + "/api/load", { method: "POST", credentials: "include", body: JSON.stringify({ name: "acct-000/Admin" }) });
      res.simple = r.status;
    } catch (e) { res.simple = "blocked: " + e.message; }
    try {
      const r = await fetch(target + "/api/load", { method: "POST", credentials: "include", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name: "acct-000/Admin" }) });
      res.json = r.status;
    } catch (e) { res.json = "blocked: " + e.message; }
    try {
      const r = await fetch(target + "/api/roles", { credentials: "include" });
      res.read = r.status;
    } catch (e) { res.read = "blocked: " + e.message; }
    return res;
  }, new URL(link).origin);
  // Without the cookie (a fresh browser profile): refused.
  const evil = await (await browser.newContext()).newPage();
  const fresh = await evil.goto(new URL(link).origin + "/");
  out.noCookie = fresh.status();
  // rolecall restarts: the open page says it expired and what to do.
  await page.bringToFront();
  await page.goBack(); // from the used link back to the picker
  await page.waitForSelector("#roles li");
  await fetch(stop);
  await page.locator("#roles li button.use").first().click();
  await page.waitForSelector("#status.error");
  out.expired = await page.locator("#status").textContent();
  if (process.env.PICKER_SCREENSHOT) await page.screenshot({ path: process.env.PICKER_SCREENSHOT.replace(/\.png$/, "-expired.png") });
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
