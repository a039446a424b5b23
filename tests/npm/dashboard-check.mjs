// Drives GET /dashboard in a real headless browser (Debian's chromium via
// puppeteer-core) and reports what the page shows, for test_dashboard.
//
//   node dashboard-check.mjs BASE_URL ADMIN_TOKEN CLIENT_TOKEN SCREENSHOT.png
// stdout: {"consoleErrors": [...], "admin": {...}, "client": {...}}
import puppeteer from "puppeteer-core";

const [base, adminToken, clientToken, screenshot] = process.argv.slice(2);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const consoleErrors = [];
const requestsWithToken = [];

async function look(token, shot) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  page.on("request", (r) => { if (r.url().includes(token)) requestsWithToken.push(r.url()); });
  await page.goto(`${base}/dashboard#token=${encodeURIComponent(token)}`, { waitUntil: "load" });
  await page.waitForSelector("#utilization .row", { timeout: 15000 });
  // Two refreshes (every 2 s) and the charts.
  await new Promise((r) => setTimeout(r, 4500));
  const seen = await page.evaluate(() => ({
    url: location.href,
    stored: sessionStorage.getItem("calltrack-token") !== null,
    rows: Object.fromEntries([...document.querySelectorAll("#utilization .row")].map(
      (r) => [r.dataset.scope, r.querySelector(".count").textContent.trim()])),
    alerts: [...document.querySelectorAll("#alerts tr[data-fingerprint]")].map((r) => r.dataset.fingerprint),
    calls: document.querySelectorAll("#calls tr.call").length,
    status: document.getElementById("status").textContent,
    scope: document.getElementById("scope").textContent,
    chartHour: document.getElementById("chart-hour-label").textContent,
  }));
  if (shot) await page.screenshot({ path: shot, fullPage: true });
  await context.close();
  return seen;
}

try {
  const admin = await look(adminToken, screenshot);
  const client = await look(clientToken, null);
  process.stdout.write(JSON.stringify({ consoleErrors, requestsWithToken, admin, client }));
} finally {
  await browser.close();
}
