// The start-up screen: while /-/ready answers 503 the page says Vigil is starting; once it
// answers 200 (VIGIL_URL/flip makes the test server ready) the app shows by itself.
import puppeteer from 'puppeteer-core';

const base = process.env.VIGIL_URL;
const browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
let ok = false;
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(base + '/query', { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('.starting', { timeout: 20000 });
  await fetch(base + '/flip', { method: 'POST' });
  await page.waitForSelector('.cm-content', { timeout: 20000 });
  ok = errors.length === 0;
  console.log(ok ? 'ok   start-up screen, then the app once ready' : 'FAIL page errors: ' + errors.join('; '));
} catch (e) {
  console.log('FAIL start-up screen: ' + e.message);
} finally {
  await browser.close();
}
process.exit(ok ? 0 : 1);
