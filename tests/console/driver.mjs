// The browser of orgd's console tests: headless Debian chromium driven by puppeteer-core, for a
// test process that talks to it over stdin/stdout (tests/common/browser.rs). One JSON command a
// line in, one JSON reply a line out, in order:
//   {"cmd": "goto", "page": "owner", "url": "http://127.0.0.1:8080/console/sign-in"}
//   -> {"ok": true, "value": {"status": 200, "url": "..."}}  or  {"ok": false, "error": "...", "url": "..."}
// The first line out, before any command, is the launch's reply: {"ok": true, "value": {"browser"}}.
// Each page name is a page in its own browser context (incognito: its own cookies), so a test can
// have several users signed in at once. Commands (all but quit take `page`):
//   open {width, height}        a new context and page with that viewport
//   goto {url}                  -> {status, url}: the main response's status and the final URL
//   fill {selector, value}      clears the field, then types the value
//   select {selector, value}    chooses the option of a <select> with that value
//   click {selector}            clicks; waits for the navigation if the click started one:
//                               -> {navigated, status, url}
//   submit {selector}           a <form>: requestSubmit() as a person's submit would; anything
//                               else: a click. Then as click
//   press {key}                 a key (puppeteer's names: "Enter", "Tab", "Escape"), then as click
//   text {selector?}            innerText of the first match (of the body without a selector)
//   exists {selector}, count {selector}, attr {selector, name} (null when absent)
//   url, html                   the current URL, the serialized document
//   screenshot {path, fullPage} a PNG (its directory made; written whole, then renamed)
//   viewport {width, height}
//   focused                     document.activeElement: {tag, id, name, text}
//   eval {js}                   an expression evaluated in the page, for reading: its JSON value
//   problems                    the console errors, uncaught errors and CSP violations seen since
//                               the last call, cleared (but the browser's own /favicon.ico 404)
//   close                       closes the page and its context
//   quit                        closes the browser; the driver exits (as it does at end of input)
// Dialogs (alert, confirm) are accepted at once: nothing waits on them.
// Environment: CHROMIUM (default /usr/bin/chromium), ORGD_BROWSER_TIMEOUT_MS (default 5000) for
// waiting on elements, ORGD_BROWSER_NAV_TIMEOUT_MS (default 15000) for navigations.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import puppeteer from 'puppeteer-core';

const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = Number(process.env.ORGD_BROWSER_TIMEOUT_MS || 5000);
const NAV_TIMEOUT = Number(process.env.ORGD_BROWSER_NAV_TIMEOUT_MS || 15000);
// How long after a click a navigation may take to start before we take it that none will.
const NAV_GRACE_MS = 300;

/** name -> {context, page, problems: string[]} */
const pages = new Map();

function reply(message) {
  process.stdout.write(JSON.stringify(message) + '\n');
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function entry(name) {
  const e = pages.get(name);
  if (!e) throw new Error(`no page named ${JSON.stringify(name)} is open`);
  return e;
}

async function open(name, width, height) {
  if (pages.has(name)) throw new Error(`page ${JSON.stringify(name)} is already open`);
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  const e = { context, page, problems: [] };
  page.setDefaultTimeout(TIMEOUT);
  page.setDefaultNavigationTimeout(NAV_TIMEOUT);
  await page.setViewport({ width, height });
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const at = msg.location();
    // The browser asks for /favicon.ico by itself when a page names no icon: not the page's doing.
    if (/^https?:\/\/[^/]+\/favicon\.ico$/.test(at?.url ?? '')) return;
    e.problems.push(`console error: ${msg.text()}${at?.url ? ` (${at.url}:${at.lineNumber ?? '?'})` : ''}`);
  });
  page.on('pageerror', (err) => e.problems.push(`uncaught: ${err?.message ?? err}`));
  page.on('dialog', (dialog) => dialog.accept().catch(() => {}));
  // CSP violations reach us through a binding; the listener is in every document before its scripts.
  await page.exposeFunction('__orgdCspViolation', (text) => e.problems.push(text));
  await page.evaluateOnNewDocument(() => {
    document.addEventListener('securitypolicyviolation', (v) => {
      window.__orgdCspViolation(
        `CSP violation: ${v.effectiveDirective} blocked ${v.blockedURI || '(inline)'}` +
          ` (${v.sourceFile || v.documentURI}:${v.lineNumber})`,
      );
    });
  });
  pages.set(name, e);
  return null;
}

/** Runs `action`; when it started a navigation of the main frame, waits for it to load. */
async function maybeNavigating(page, action) {
  const frame = page.mainFrame();
  let started = false;
  const onRequest = (req) => {
    if (req.isNavigationRequest() && req.frame() === frame) started = true;
  };
  const abort = new AbortController();
  const nav = page.waitForNavigation({ signal: abort.signal }).then(
    (response) => ({ response }),
    (error) => ({ error }),
  );
  page.on('request', onRequest);
  try {
    await action();
    let done = await Promise.race([nav, sleep(NAV_GRACE_MS).then(() => null)]);
    if (!done && !started) {
      abort.abort();
      return { navigated: false, status: null, url: page.url() };
    }
    done = done ?? (await nav);
    if (done.error) throw done.error;
    return { navigated: true, status: done.response?.status() ?? null, url: page.url() };
  } finally {
    page.off('request', onRequest);
    abort.abort();
  }
}

/** An action on an element, failing with "no element matches" when nothing does. */
async function onElement(page, selector, action) {
  try {
    return await action();
  } catch (err) {
    if (!(await page.$(selector).catch(() => null))) {
      throw new Error(`no element matches ${selector} (waited ${TIMEOUT} ms)`);
    }
    throw err;
  }
}

async function first(page, selector) {
  const handle = await page.$(selector);
  if (!handle) throw new Error(`no element matches ${selector}`);
  return handle;
}

async function screenshot(page, file, fullPage) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // Whole or not at all: tests running at once may write the same file.
  const partial = `${file}.${process.pid}.partial.png`;
  await page.screenshot({ path: partial, fullPage: fullPage !== false });
  fs.renameSync(partial, file);
  return null;
}

const commands = {
  open: (c) => open(c.page, c.width ?? 1280, c.height ?? 800),
  async goto(c) {
    const { page } = entry(c.page);
    const response = await page.goto(c.url, { waitUntil: 'load' });
    return { status: response?.status() ?? null, url: page.url() };
  },
  async fill(c) {
    const { page } = entry(c.page);
    await onElement(page, c.selector, () => page.locator(c.selector).fill(String(c.value)));
    return null;
  },
  async select(c) {
    const { page } = entry(c.page);
    const chosen = await onElement(page, c.selector, async () => {
      await page.waitForSelector(c.selector);
      return page.select(c.selector, String(c.value));
    });
    if (!chosen.includes(String(c.value))) {
      throw new Error(`${c.selector} has no option with the value ${JSON.stringify(c.value)}`);
    }
    return null;
  },
  async click(c) {
    const { page } = entry(c.page);
    return maybeNavigating(page, () =>
      onElement(page, c.selector, () => page.locator(c.selector).click()),
    );
  },
  async submit(c) {
    const { page } = entry(c.page);
    return maybeNavigating(page, () =>
      onElement(page, c.selector, async () => {
        const handle = await page.waitForSelector(c.selector);
        const isForm = await handle.evaluate((el) => el instanceof HTMLFormElement);
        if (isForm) await handle.evaluate((form) => form.requestSubmit());
        else await page.locator(c.selector).click();
      }),
    );
  },
  async press(c) {
    const { page } = entry(c.page);
    return maybeNavigating(page, () => page.keyboard.press(c.key));
  },
  async text(c) {
    const { page } = entry(c.page);
    const handle = await first(page, c.selector || 'body');
    return handle.evaluate((el) => el.innerText);
  },
  exists: async (c) => (await entry(c.page).page.$(c.selector)) !== null,
  count: async (c) => (await entry(c.page).page.$$(c.selector)).length,
  async attr(c) {
    const handle = await first(entry(c.page).page, c.selector);
    return handle.evaluate((el, name) => el.getAttribute(name), c.name);
  },
  url: async (c) => entry(c.page).page.url(),
  html: async (c) => entry(c.page).page.content(),
  screenshot: (c) => screenshot(entry(c.page).page, c.path, c.fullPage),
  async viewport(c) {
    await entry(c.page).page.setViewport({ width: c.width, height: c.height });
    return null;
  },
  focused: (c) =>
    entry(c.page).page.evaluate(() => {
      const el = document.activeElement;
      if (!el) return null;
      return {
        tag: el.tagName.toLowerCase(),
        id: el.id || null,
        name: el.getAttribute('name'),
        text: (el.innerText ?? '').trim().slice(0, 200),
      };
    }),
  // The expression's value, through JSON (undefined becomes null).
  eval: async (c) => (await entry(c.page).page.evaluate(c.js)) ?? null,
  async problems(c) {
    const e = entry(c.page);
    return e.problems.splice(0);
  },
  async close(c) {
    const e = entry(c.page);
    pages.delete(c.page);
    await e.context.close();
    return null;
  },
};

let browser;
try {
  browser = await puppeteer.launch({
    executablePath,
    // Puppeteer's headless mode is chromium's --headless=new.
    headless: true,
    // A pipe, not a port: chromium exits when the driver does, however it ends.
    pipe: true,
    // Root in CI: no sandbox. A small /dev/shm (containers) would crash the renderer.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--lang=en-US'],
  });
  reply({ ok: true, value: { browser: await browser.version() } });
} catch (err) {
  reply({ ok: false, error: `could not launch ${executablePath}: ${err?.message ?? err}` });
  process.exit(1);
}

async function quit() {
  await browser.close().catch(() => {});
  process.exit(0);
}

// Commands run one at a time, in the order they came.
let queue = Promise.resolve();
const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  if (!line.trim()) return;
  queue = queue.then(async () => {
    let c;
    try {
      c = JSON.parse(line);
    } catch (err) {
      reply({ ok: false, error: `not JSON: ${err.message}` });
      return;
    }
    if (c.cmd === 'quit') {
      reply({ ok: true, value: null });
      await quit();
    }
    const run = commands[c.cmd];
    try {
      if (!run) throw new Error(`unknown command ${JSON.stringify(c.cmd)}`);
      reply({ ok: true, value: (await run(c)) ?? null });
    } catch (err) {
      const url = pages.get(c.page)?.page.url() ?? null;
      reply({ ok: false, error: err?.message ?? String(err), url });
    }
  });
});
lines.on('close', () => {
  queue = queue.then(quit);
});
