// The browser of the picker's tests: Debian's chromium ($CHROMIUM), with a
// page opened on url as a desktop opens it (the tray's file on its
// command line), once the role list is shown.
import { chromium } from "playwright-core";

export async function open(url) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox"],
  });
  const page = await (await browser.newContext()).newPage();
  await page.goto(url);
  await page.waitForSelector("#roles li", { timeout: 15000 });
  return { browser, page };
}
