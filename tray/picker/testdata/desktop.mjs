// Opens the role picker the way a desktop does, from the file the tray
// handed to the browser, and picks a role. Usage: node desktop.mjs
// FILE_URL SEARCH (PICKER_SCREENSHOT=file.png keeps a picture). Prints one
// JSON object: the page's URL, what the status line said after the pick
// and the loaded entry; the Go test checks what rolecall then serves.
import { open } from "./chromium.mjs";

const [file, search] = process.argv.slice(2);
const out = {};
const { browser, page } = await open(file);
try {
  out.url = page.url();
  await page.fill("#q", search);
  await page.press("#q", "Enter");
  await page.waitForSelector("#roles li.loaded, #roles li.pending, #status.error", { timeout: 30000 });
  out.status = await page.locator("#status").textContent();
  out.loaded = await page.locator("#roles li.loaded .label").allTextContents();
  out.pending = await page.locator("#roles li.pending .label").allTextContents();
  if (process.env.PICKER_SCREENSHOT) await page.screenshot({ path: process.env.PICKER_SCREENSHOT });
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
