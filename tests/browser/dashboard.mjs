// Drives the Back Office web dashboard in headless Chromium (Debian's
// /usr/bin/chromium through playwright-core; nothing is downloaded). Run by
// tests/tests/dashboard_browser.rs, which starts the Back Office, seeds it
// and checks what tills see; this script is the owner at the browser.
//
//   node dashboard.mjs setup    sign in (a wrong password first), screenshot
//                               every page of the navigation (transfers and
//                               reports included), change a product's price,
//                               add a branch, send it 5 of the product from
//                               WHIZ_BRANCH and receive 4 (a discrepancy),
//                               create a device key for a branch; prints
//                               {"key":"whiz_…"} on stdout
//   node dashboard.mjs revoke   sign in, find a till's sale on /sales and
//                               open it, revoke the device; prints {"ok":true}
//
// Settings come from the environment: WHIZ_BASE_URL, WHIZ_USERNAME,
// WHIZ_PASSWORD, WHIZ_SCREENSHOTS (directory), and per phase WHIZ_PRODUCT,
// WHIZ_NEW_PRICE, WHIZ_BRANCH, WHIZ_DEVICE_NAME and optionally
// WHIZ_NEW_BRANCH (setup: a branch to add on /branches) or WHIZ_RECEIPT,
// WHIZ_DEVICE_NAME (revoke). Optional: WHIZ_CHROMIUM (default
// /usr/bin/chromium), WHIZ_BROWSER_TIMEOUT_MS (default 15000).
//
// Only the result line goes to stdout; progress and failures go to stderr.
// Any failed expectation exits 1 with a message naming the page and the
// selector, after a screenshot named failure-<phase>.png.

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const NAV = [
  'nav-dashboard', 'nav-products', 'nav-categories', 'nav-transfers', 'nav-sales',
  'nav-customers', 'nav-expenses', 'nav-reports', 'nav-users', 'nav-branches',
  'nav-devices', 'nav-settings', 'nav-sync-log', 'nav-sync-exceptions',
];

/** The transfer sent in the browser: this many of the product… */
const TRANSFER_SENT = '5';
/** …of which the receiving branch counts this many (a discrepancy). */
const TRANSFER_RECEIVED = '4';

const phase = process.argv[2];
const timeout = Number(process.env.WHIZ_BROWSER_TIMEOUT_MS || 15000);

function log(msg) {
  process.stderr.write(`[browser] ${msg}\n`);
}

class Failed extends Error {}

function fail(msg) {
  throw new Failed(msg);
}

function env(name) {
  const v = process.env[name];
  if (v === undefined || v === '') {
    fail(`the environment variable ${name} is not set`);
  }
  return v;
}

const sel = (testid) => `[data-testid=${JSON.stringify(testid)}]`;

/** Screenshots numbered on from what the directory already holds, so the
 * two phases make one sequence. */
class Shots {
  constructor(dir) {
    this.dir = dir;
    fs.mkdirSync(dir, { recursive: true });
    const taken = fs.readdirSync(dir)
      .map((f) => /^(\d+)-.*\.png$/.exec(f))
      .filter(Boolean)
      .map((m) => Number(m[1]));
    this.next = taken.length ? Math.max(...taken) + 1 : 1;
    this.files = [];
  }

  async take(page, name) {
    const file = `${String(this.next).padStart(2, '0')}-${name}.png`;
    this.next += 1;
    await page.screenshot({ path: path.join(this.dir, file), fullPage: true });
    this.files.push(file);
    log(`  screenshot ${file}`);
  }
}

function pathOf(url) {
  const u = new URL(url);
  return u.pathname + u.search;
}

/** What a page says about itself when an expectation fails. */
async function describe(page) {
  let text = '';
  try {
    text = (await page.locator('body').innerText({ timeout: 2000 })).replace(/\s+/g, ' ').trim();
  } catch {
    text = '(no body)';
  }
  return `at ${page.url()}: ${text.slice(0, 600)}`;
}

/** Fails if the page shows a form error. */
async function noFormError(page, what) {
  const errors = page.locator(sel('form-error'));
  if (await errors.count()) {
    const text = (await errors.first().innerText()).trim();
    fail(`${what}: the page shows [data-testid=form-error] "${text}" (${page.url()})`);
  }
}

/** Checks a navigation's answer: a 200 for `what`. */
function expectOk(response, what) {
  if (!response) {
    fail(`${what}: no response`);
  }
  if (response.status() !== 200) {
    fail(`${what}: HTTP ${response.status()} for ${response.url()} (expected 200)`);
  }
}

async function open(page, base, where, what) {
  const response = await page.goto(new URL(where, base).href, { waitUntil: 'load' });
  expectOk(response, what);
  await noFormError(page, what);
  return response;
}

/** Clicks `locator` and waits for the page it leads to (a form post's
 * redirect followed); returns the final response. */
async function clickAndLoad(page, locator, what) {
  if ((await locator.count()) === 0) {
    fail(`${what}: nothing to click ${await describe(page)}`);
  }
  const [response] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    locator.first().click(),
  ]);
  return response;
}

async function waitFor(page, selector, what) {
  try {
    return await page.waitForSelector(selector, { state: 'attached' });
  } catch {
    fail(`${what}: ${selector} did not appear within ${timeout} ms ${await describe(page)}`);
  }
}

/** Fills in the open sign-in form and submits it; returns the response. */
async function submitSignIn(page, username, password, what) {
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  return clickAndLoad(page, page.locator(sel('login-submit')), what);
}

/** Signs in on the open sign-in form, which must lead to the dashboard. */
async function signInHere(page, username, password) {
  const response = await submitSignIn(page, username, password, 'sign in');
  expectOk(response, 'the page after signing in');
  await noFormError(page, 'signing in');
  if (new URL(page.url()).pathname !== '/') {
    fail(`signing in led to ${page.url()}, not the dashboard (/)`);
  }
  await waitFor(page, sel('signed-in-as'), 'the dashboard after signing in');
}

async function signIn(page, base, username, password) {
  await open(page, base, '/login', 'the sign-in page');
  await signInHere(page, username, password);
}

/** The sign-in page, a wrong password, then the right one. */
async function signInFirstTime(page, base, shots, username, password) {
  await open(page, base, '/login', 'the sign-in page');
  await waitFor(page, 'input[name=username]', 'the sign-in page');
  await shots.take(page, 'login');

  log('a wrong password is refused');
  const refused = await submitSignIn(page, username, `${password}-wrong`, 'sign in (wrong password)');
  if (refused && refused.status() === 200 && new URL(page.url()).pathname === '/') {
    fail('a wrong password signed in');
  }
  const error = await waitFor(page, sel('form-error'), 'the sign-in page after a wrong password');
  log(`  refused (HTTP ${refused ? refused.status() : '?'}): "${(await error.innerText()).trim()}"`);
  await shots.take(page, 'login-wrong-password');

  log('the right password signs in');
  await signInHere(page, username, password);
  await waitFor(page, sel('nav-dashboard'), 'the dashboard after signing in');
  await shots.take(page, 'dashboard');
}

/** Every page of the navigation: reached by its link, a 200 without an
 * error box, screenshotted. */
async function everyPage(page, shots) {
  const found = await page.locator('[data-testid^="nav-"]').evaluateAll((links) =>
    links.map((a) => ({ testid: a.getAttribute('data-testid'), href: a.getAttribute('href') })));
  const missing = NAV.filter((id) => !found.some((l) => l.testid === id));
  if (missing.length) {
    fail(`the navigation lacks ${missing.join(', ')} (it has ${found.map((l) => l.testid).join(', ')})`);
  }
  for (const { testid, href } of found) {
    if (testid === 'nav-dashboard') {
      continue; // screenshotted after signing in
    }
    const what = `the page of ${testid} (${href})`;
    log(`page ${href}`);
    const response = await clickAndLoad(page, page.locator(sel(testid)), what);
    expectOk(response, what);
    if (pathOf(page.url()) !== href) {
      fail(`${what}: the link led to ${page.url()}`);
    }
    await noFormError(page, what);
    await waitFor(page, sel('signed-in-as'), what);
    await shots.take(page, testid.replace(/^nav-/, ''));
  }
}

function priceValue(text) {
  return Number(String(text).replace(/[^0-9.-]/g, ''));
}

async function changePrice(page, base, shots, product, newPrice) {
  log(`change the price of ${product} to ${newPrice}`);
  await open(page, base, `/products?q=${encodeURIComponent(product)}`, 'the product search');
  const link = page.getByRole('link', { name: product, exact: true });
  const n = await link.count();
  if (n === 0) {
    fail(`/products?q=${product}: no link whose text is exactly "${product}" ${await describe(page)}`);
  }
  const response = await clickAndLoad(page, link, `the link "${product}"`);
  expectOk(response, `the product page of ${product}`);
  const productPath = new URL(page.url()).pathname;
  if (!/^\/products\/[^/]+$/.test(productPath)) {
    fail(`the link "${product}" led to ${page.url()}, not /products/{id}`);
  }
  const price = await waitFor(page, 'input[name=price]', `the product page ${productPath}`);
  log(`  ${productPath}: price was ${await price.inputValue()}`);
  await page.fill('input[name=price]', newPrice);
  const saved = await clickAndLoad(page, page.locator(sel('product-save')), 'Save product');
  expectOk(saved, 'the page after saving the product');
  await noFormError(page, 'saving the product');
  const flash = await waitFor(page, sel('flash'), 'the page after saving the product');
  log(`  saved: "${(await flash.innerText()).trim()}"`);
  await shots.take(page, 'product-saved');

  // The form shows the new price when opened again.
  await open(page, base, productPath, `the product page ${productPath} again`);
  const now = await page.locator('input[name=price]').first().inputValue();
  if (priceValue(now) !== priceValue(newPrice)) {
    fail(`${productPath} shows price "${now}" after saving ${newPrice}`);
  }
  return productPath;
}

/** Adds a branch on /branches (the form [data-testid=add-branch]). */
async function addBranch(page, base, shots, name) {
  log(`add the branch ${name}`);
  await open(page, base, '/branches', 'the branches page');
  await waitFor(page, sel('add-branch'), 'the branches page');
  const form = page.locator(sel('add-branch')).first();
  await form.locator('input[name=name]').fill(name);
  const response = await clickAndLoad(page, form.locator('button[type=submit]'), 'Add branch');
  expectOk(response, 'the page after adding a branch');
  await noFormError(page, 'adding a branch');
  const flash = await waitFor(page, sel('flash'), 'the page after adding a branch');
  log(`  added: "${(await flash.innerText()).trim()}"`);
  const names = await page.locator(`${sel('branches')} input[name=name]`).evaluateAll((inputs) => inputs.map((i) => i.value));
  const cells = await page.locator(sel('branches')).innerText();
  if (!names.includes(name) && !cells.includes(name)) {
    fail(`/branches does not list the new branch ${name} after adding it`);
  }
  await shots.take(page, 'branch-added');
}

/** Picks the option labelled `label` in `select[name=…]`, or fails naming
 * the options there are. */
async function choose(page, name, label, what) {
  const select = page.locator(`select[name=${name}]`).first();
  try {
    await select.selectOption({ label });
  } catch {
    const labels = await select.locator('option').allInnerTexts();
    fail(`${what}: select[name=${name}] has no option "${label}" (options: ${labels.map((l) => JSON.stringify(l.trim())).join(', ')})`);
  }
}

/** The state of the transfer whose page is open ([data-testid=transfer-state]'s data-state). */
async function transferState(page, what) {
  const badge = await waitFor(page, sel('transfer-state'), what);
  return badge.getAttribute('data-state');
}

/** Sends TRANSFER_SENT of `product` from `from` to `to` on /transfers/new
 * (adding a line on the way, which keeps what was typed), then receives
 * TRANSFER_RECEIVED of them on the transfer's page: a discrepancy. */
async function transferStock(page, base, shots, product, from, to) {
  log(`send ${TRANSFER_SENT} ${product} from ${from} to ${to}`);
  await open(page, base, '/transfers/new', 'the send-a-transfer page');
  await waitFor(page, sel('transfer-send-form'), 'the send-a-transfer page');
  await choose(page, 'from_branch_id', from, '/transfers/new');
  await choose(page, 'to_branch_id', to, '/transfers/new');
  // One shared <datalist> offers the products; the line's field takes the
  // product's SKU, barcode or exact name, typed.
  if (await page.locator('datalist#transfer-products option').count() === 0) {
    fail(`/transfers/new offers no products in its list ${await describe(page)}`);
  }
  await page.fill('input[name=product_1]', product);
  await page.fill('input[name=quantity_1]', TRANSFER_SENT);
  const more = await clickAndLoad(page, page.locator(sel('transfer-add-line')), 'Add a line');
  expectOk(more, 'the send form with one more line');
  await waitFor(page, 'input[name=quantity_6]', 'the send form after Add a line');
  const kept = await page.locator('input[name=quantity_1]').inputValue();
  if (kept !== TRANSFER_SENT) {
    fail(`Add a line lost the typed quantity: line 1 shows "${kept}", not ${TRANSFER_SENT}`);
  }
  const keptProduct = await page.locator('input[name=product_1]').inputValue();
  if (keptProduct !== product) {
    fail(`Add a line lost the typed product: line 1 shows "${keptProduct}", not "${product}"`);
  }
  await shots.take(page, 'transfer-form');
  const sent = await clickAndLoad(page, page.locator(sel('transfer-send')), 'Send the transfer');
  expectOk(sent, 'the transfer after sending it');
  await noFormError(page, 'sending the transfer');
  if (!/^\/transfers\/[^/]+$/.test(new URL(page.url()).pathname)) {
    fail(`sending the transfer led to ${page.url()}, not /transfers/{id}`);
  }
  const transferPath = new URL(page.url()).pathname;
  const before = await transferState(page, 'the transfer just sent');
  if (before !== 'sent') {
    fail(`${transferPath} shows the state "${before}" after sending, not "sent" (in transit)`);
  }
  await waitFor(page, sel('discrepancy-warning'), 'the receive form');
  await shots.take(page, 'transfer-sent');

  log(`receive ${TRANSFER_RECEIVED} of the ${TRANSFER_SENT} at ${to}`);
  const counted = page.locator('input[name=received_1]');
  const prefilled = await counted.inputValue();
  if (prefilled !== TRANSFER_SENT) {
    fail(`the receive form is prefilled with "${prefilled}", not the ${TRANSFER_SENT} sent`);
  }
  await counted.fill(TRANSFER_RECEIVED);
  const received = await clickAndLoad(page, page.locator(sel('transfer-receive')), 'Receive');
  expectOk(received, 'the transfer after receiving it');
  await noFormError(page, 'receiving the transfer');
  const flash = await waitFor(page, sel('flash'), 'the transfer after receiving it');
  log(`  received: "${(await flash.innerText()).trim()}"`);
  const after = await transferState(page, 'the transfer received');
  if (after !== 'received_with_discrepancy') {
    fail(`${transferPath} shows the state "${after}" after receiving ${TRANSFER_RECEIVED} of ${TRANSFER_SENT}, not "received_with_discrepancy"`);
  }
  await waitFor(page, sel('transfer-discrepancy'), 'the discrepancy notice');
  await shots.take(page, 'transfer-received');

  await open(page, base, '/transfers?state=received_with_discrepancy', 'the transfers with a discrepancy');
  const badges = page.locator(`${sel('transfers')} [data-state=received_with_discrepancy]`);
  if ((await badges.count()) !== 1) {
    fail(`/transfers?state=received_with_discrepancy lists ${await badges.count()} transfers, not 1 ${await describe(page)}`);
  }
  await shots.take(page, 'transfers-discrepancy');

  await open(page, base, '/reports', 'the branch reports');
  await waitFor(page, sel('report'), 'the branch reports');
  await shots.take(page, 'reports-after-transfer');
}

async function createKey(page, base, shots, branch, deviceName, newBranch) {
  log(`create a desktop key "${deviceName}" for branch ${branch}`);
  await open(page, base, '/devices', 'the devices page');
  const create = page.locator(sel('device-create'));
  await waitFor(page, sel('device-create'), 'the devices page');
  const form = page.locator('form').filter({ has: create }).first();
  const branchSelect = form.locator('select[name=branch_id]');
  if ((await branchSelect.count()) === 0) {
    fail(`/devices: the form with [data-testid=device-create] has no select[name=branch_id]`);
  }
  if (newBranch) {
    const labels = (await branchSelect.locator('option').allInnerTexts()).map((l) => l.trim());
    if (!labels.includes(newBranch)) {
      fail(`/devices: the new branch ${newBranch} is not among the branches of a key (${labels.join(', ')})`);
    }
  }
  try {
    await branchSelect.selectOption({ label: branch });
  } catch {
    const labels = await branchSelect.locator('option').allInnerTexts();
    fail(`/devices: select[name=branch_id] has no option "${branch}" (options: ${labels.map((l) => JSON.stringify(l.trim())).join(', ')})`);
  }
  await form.locator('input[name=name]').fill(deviceName);
  try {
    await form.locator('select[name=kind]').selectOption('desktop');
  } catch {
    fail('/devices: select[name=kind] has no option "desktop"');
  }
  const response = await clickAndLoad(page, create, 'Create device key');
  expectOk(response, 'the page after creating a device key');
  await noFormError(page, 'creating a device key');
  const keyEl = await waitFor(page, sel('device-key'), 'the new device key');
  const tag = await keyEl.evaluate((e) => e.tagName.toLowerCase());
  const key = ((tag === 'input' || tag === 'textarea') ? await keyEl.inputValue() : await keyEl.innerText()).trim();
  if (!/^whiz_\S+$/.test(key)) {
    fail(`[data-testid=device-key] shows "${key}", not a key starting whiz_ (${page.url()})`);
  }
  if ((await page.locator(`${sel('device-qr')} svg`).count()) === 0) {
    fail(`the new key's page has no [data-testid=device-qr] svg (${page.url()})`);
  }
  log(`  key ${key.slice(0, 9)}… with its QR code at ${pathOf(page.url())}`);
  await shots.take(page, 'device-key');
  return key;
}

async function setup(page, base, shots) {
  const username = env('WHIZ_USERNAME');
  const password = env('WHIZ_PASSWORD');
  await signInFirstTime(page, base, shots, username, password);
  await everyPage(page, shots);
  await changePrice(page, base, shots, env('WHIZ_PRODUCT'), env('WHIZ_NEW_PRICE'));
  const newBranch = process.env.WHIZ_NEW_BRANCH;
  if (newBranch) {
    await addBranch(page, base, shots, newBranch);
    await transferStock(page, base, shots, env('WHIZ_PRODUCT'), env('WHIZ_BRANCH'), newBranch);
  }
  const key = await createKey(page, base, shots, env('WHIZ_BRANCH'), env('WHIZ_DEVICE_NAME'), newBranch);
  return { key };
}

async function revoke(page, base, shots) {
  const receipt = env('WHIZ_RECEIPT');
  const deviceName = env('WHIZ_DEVICE_NAME');
  log('sign in again');
  await signIn(page, base, env('WHIZ_USERNAME'), env('WHIZ_PASSWORD'));

  log(`the till's sale ${receipt} on /sales`);
  await open(page, base, '/sales', 'the sales page');
  const listed = page.getByText(receipt, { exact: false });
  if ((await listed.count()) === 0) {
    fail(`/sales does not list receipt ${receipt} ${await describe(page)}`);
  }
  await shots.take(page, 'sales-with-till-sale');
  const link = page.getByRole('link', { name: receipt, exact: false });
  if ((await link.count()) === 0) {
    fail(`/sales: receipt ${receipt} is listed but no link to its sale has it in its text`);
  }
  const detail = await clickAndLoad(page, link, `the sale ${receipt}`);
  expectOk(detail, `the sale ${receipt}`);
  await noFormError(page, `the sale ${receipt}`);
  const body = await page.locator('body').innerText();
  if (!body.includes(receipt)) {
    fail(`the sale page ${page.url()} does not show its receipt number ${receipt}`);
  }
  log(`  sale page ${pathOf(page.url())}`);
  await shots.take(page, 'sale-detail');

  log('the sale on the dashboard: today\'s bar of the chart is no longer empty');
  await open(page, base, '/', 'the dashboard');
  await waitFor(page, `${sel('sales-chart')} rect[data-value]`, 'the dashboard chart');
  const values = await page
    .locator(`${sel('sales-chart')} rect[data-value]`)
    .evaluateAll((bars) => bars.map((b) => Number(b.getAttribute('data-value'))));
  if (!values.some((v) => v > 0)) {
    fail(`the dashboard chart has no bar above zero after the till's sale (values ${values.join(',')})`);
  }
  await shots.take(page, 'dashboard-with-sale');

  log(`revoke "${deviceName}" on /devices`);
  await open(page, base, '/devices', 'the devices page');
  const row = page.locator(`tr[data-device-name=${JSON.stringify(deviceName)}]`);
  if ((await row.count()) === 0) {
    fail(`/devices has no tr[data-device-name="${deviceName}"] ${await describe(page)}`);
  }
  const ask = await clickAndLoad(page, row.first().locator(sel('device-revoke')), `Revoke in the row of ${deviceName}`);
  expectOk(ask, 'the revoke confirmation page');
  await noFormError(page, 'the revoke confirmation page');
  await waitFor(page, sel('device-revoke-confirm'), 'the revoke confirmation page');
  await shots.take(page, 'device-revoke-confirm');
  const done = await clickAndLoad(page, page.locator(sel('device-revoke-confirm')), 'Confirm revoke');
  expectOk(done, 'the page after revoking');
  await noFormError(page, 'revoking the device');
  const flash = await waitFor(page, sel('flash'), 'the page after revoking');
  log(`  revoked: "${(await flash.innerText()).trim()}"`);
  if (new URL(page.url()).pathname === '/devices') {
    const after = page.locator(`tr[data-device-name=${JSON.stringify(deviceName)}]`);
    if ((await after.count()) === 0) {
      fail(`/devices no longer lists "${deviceName}" after revoking it (a revoked device stays listed)`);
    }
    if ((await after.locator(sel('device-revoke')).count()) !== 0) {
      fail(`/devices still offers [data-testid=device-revoke] for "${deviceName}" after revoking it`);
    }
  }
  await shots.take(page, 'device-revoked');
  return { ok: true };
}

async function main() {
  const phases = { setup, revoke };
  if (!phases[phase]) {
    fail(`usage: node dashboard.mjs setup|revoke (got ${JSON.stringify(phase)})`);
  }
  const base = env('WHIZ_BASE_URL');
  const shots = new Shots(env('WHIZ_SCREENSHOTS'));
  const executablePath = process.env.WHIZ_CHROMIUM || '/usr/bin/chromium';
  if (!fs.existsSync(executablePath)) {
    fail(`no Chromium at ${executablePath}: install Debian's chromium (apt-get install chromium)`);
  }
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    timeout,
  });
  log(`${phase}: Chromium ${browser.version()} against ${base}`);
  let page;
  try {
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(timeout);
    page.setDefaultNavigationTimeout(timeout);
    page.on('pageerror', (e) => log(`  warning: script error on ${page.url()}: ${e.message}`));
    page.on('response', (r) => {
      if (r.status() >= 400 && !r.request().isNavigationRequest()) {
        log(`  warning: HTTP ${r.status()} for ${r.url()}`);
      }
    });
    const result = await phases[phase](page, base, shots);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    log(`${phase}: ok; screenshots ${shots.files.join(', ')}`);
  } catch (e) {
    if (page) {
      try {
        const file = path.join(shots.dir, `failure-${phase}.png`);
        await page.screenshot({ path: file, fullPage: true });
        log(`failure screenshot ${file}`);
      } catch {
        // the page is gone
      }
    }
    throw e;
  } finally {
    await browser.close();
  }
}

// A hung browser never hangs the test.
const watchdog = setTimeout(() => {
  log(`FAILED: ${phase} took longer than ${(timeout * 12) / 1000} s`);
  process.exit(1);
}, timeout * 12);
watchdog.unref();

main().then(
  () => process.exit(0),
  (e) => {
    log(`FAILED: ${e instanceof Failed ? e.message : (e && e.stack) || e}`);
    process.exit(1);
  },
);
