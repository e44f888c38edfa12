// Drives a real Chromium (Debian's /usr/bin/chromium, through playwright-core) through a list
// of steps and prints one JSON object with what it saw. The Rust end-to-end tests build the
// steps and assert on the result (tests/src/browser.rs).
//
// Input (environment):
//   JOURNEY_STEPS           JSON list of steps, each one of
//                             {"goto": url}                       navigate
//                             {"wait_url": text}                  wait until the URL contains text
//                             {"fill": selector, "value": text}   type into a field
//                             {"click": selector}                 click (and let navigation settle)
//                             {"snapshot": name}                  record url, status, text, cookies
//   JOURNEY_RESOLVER_RULES  Chromium --host-resolver-rules (maps test host names to 127.0.0.1:port)
//   JOURNEY_TIMEOUT_MS      per-step deadline (default 15000)
// Output (stdout): {"snapshots": {name: {url, status, text, cookies}}, "error": null | {step, message, url, text}}
import { chromium } from 'playwright-core';

const steps = JSON.parse(process.env.JOURNEY_STEPS || '[]');
const timeout = Number(process.env.JOURNEY_TIMEOUT_MS || 15000);
const args = ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'];
if (process.env.JOURNEY_RESOLVER_RULES) {
  args.push(`--host-resolver-rules=${process.env.JOURNEY_RESOLVER_RULES}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args,
  timeout,
});
const context = await browser.newContext({ ignoreHTTPSErrors: true });
const page = await context.newPage();
page.setDefaultTimeout(timeout);

let lastStatus = null;
page.on('response', (response) => {
  if (response.request().isNavigationRequest() && response.frame() === page.mainFrame()) {
    lastStatus = response.status();
  }
});

const text = async () => {
  try { return await page.innerText('body', { timeout: 2000 }); } catch { return ''; }
};

const result = { snapshots: {}, error: null };
for (const [index, step] of steps.entries()) {
  try {
    if ('goto' in step) {
      await page.goto(step.goto, { waitUntil: 'load' });
    } else if ('wait_url' in step) {
      await page.waitForURL((url) => url.href.includes(step.wait_url), { waitUntil: 'load' });
    } else if ('fill' in step) {
      await page.fill(step.fill, step.value);
    } else if ('click' in step) {
      await Promise.all([
        page.waitForEvent('framenavigated', { timeout }).catch(() => {}),
        page.click(step.click),
      ]);
      await page.waitForLoadState('load');
    } else if ('snapshot' in step) {
      result.snapshots[step.snapshot] = {
        url: page.url(),
        status: lastStatus,
        text: await text(),
        cookies: await context.cookies(),
      };
    } else {
      throw new Error(`unknown step ${JSON.stringify(step)}`);
    }
  } catch (e) {
    result.error = { step: index, message: String(e.message || e).split('\n')[0], url: page.url(), text: (await text()).slice(0, 2000) };
    break;
  }
}
await browser.close();
process.stdout.write(JSON.stringify(result) + '\n');
