// Browser tests of the diemcau pages, in the system's headless Chromium.
//
//   cd tests/browser && npm ci && node run.mjs
//
// Builds nothing: the server binary comes from $DIEMCAU_BIN (default
// ../../target/debug/diemcau). In a temporary directory it creates an
// organizer account, imports a small unit tree, starts the server on a free
// loopback port and drives the pages. Screenshots go to ./artifacts/.
// Chromium missing is a failure, never a skip.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { decodeSvg } from './qr-decode.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const BIN = resolve(HERE, process.env.DIEMCAU_BIN || '../../target/debug/diemcau');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ARTIFACTS = join(HERE, 'artifacts');
const USERNAME = 'tester';
const DISPLAY_NAME = 'Ban Tuyên giáo (thử nghiệm)';
const PASSWORD = 'Thu-nghiem-2025!';
const THEME = 'Nêu cao tinh thần trách nhiệm, linh hoạt, sáng tạo, hành động quyết liệt';
const POINT_NAME = 'Hội trường UBND xã Hòa Bình';
const LAUNCH_ARGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 };
const DESKTOP = { viewport: { width: 1280, height: 860 } };
// API answers the pages expect and handle (failed sign-in, import refused,
// signed out…): Chromium logs each as a console error, which is not a fault.
const EXPECTED_HTTP = /Failed to load resource: the server responded with a status of (400|401|404|409)\b/;

let server = null;
let base = '';
let tmp = '';
let dbUrl = '';
let browser = null;
let signedIn = null; // storage state after signing in
let operatorLink = '';
let sessionUrl = '';
const faults = []; // console errors, page errors, CSP violations, missing translations

mkdirSync(ARTIFACTS, { recursive: true });

// A hung browser or server must not hang CI: give up after ten minutes.
setTimeout(() => {
  console.error('browser tests: still running after 10 minutes, giving up');
  if (server && server.exitCode === null) server.kill('SIGKILL');
  process.exit(1);
}, 10 * 60_000).unref();

function run(cmd, args, input) {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? ok(out) : fail(new Error(`${cmd} ${args.join(' ')} → exit ${code}\n${out}`))));
    child.stdin.end(input || '');
  });
}

function freePort() {
  return new Promise((ok, fail) => {
    const srv = net.createServer();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

async function waitHealthy(url, ms) {
  const until = Date.now() + ms;
  let last = null;
  while (Date.now() < until) {
    if (server && server.exitCode !== null) throw new Error(`server exited with ${server.exitCode} (see artifacts/server.log)`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
      last = new Error(`HTTP ${res.status}`);
    } catch (err) { last = err; }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`server not healthy at ${url}: ${last}`);
}

/** Records every console error, page error and CSP violation of a page. */
function watch(page, label) {
  page.on('console', (msg) => {
    const text = msg.text();
    if (msg.type() === 'error' && !EXPECTED_HTTP.test(text)) faults.push(`[${label}] console error: ${text}`);
    if (/Content Security Policy|Refused to/i.test(text) && msg.type() !== 'error') faults.push(`[${label}] CSP: ${text}`);
  });
  page.on('pageerror', (err) => faults.push(`[${label}] page error: ${err.message}`));
  return page;
}

async function newContext(kind, opts = {}) {
  const ctx = await browser.newContext({ ...(kind === 'phone' ? PHONE : DESKTOP), ...opts });
  ctx.setDefaultTimeout(15_000);
  // Report CSP violations explicitly (init scripts are not subject to the page's CSP).
  await ctx.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
    });
  });
  return ctx;
}

async function newPage(ctx, label) {
  return watch(await ctx.newPage(), label);
}

/** Fails on translation keys that the dictionary lacks. */
async function checkTranslations(page, label) {
  const missing = await page.evaluate(() => globalThis.__i18nMissing || []);
  if (missing.length) faults.push(`[${label}] missing translations: ${missing.join(', ')}`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function signedInPage(kind, label) {
  assert.ok(signedIn, 'needs the sign-in test to pass first');
  const ctx = await newContext(kind, { storageState: signedIn });
  return newPage(ctx, label);
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM} (install it: apt-get install -y chromium)`);
  assert.ok(existsSync(BIN), `server binary not found at ${BIN} (build it: cargo build, or set DIEMCAU_BIN)`);
  const { chromium } = await import('playwright-core');
  tmp = mkdtempSync(join(tmpdir(), 'diemcau-browser-'));
  const db = `sqlite://${tmp}/b.db`;
  dbUrl = db;
  await run(BIN, ['admin', 'create', '--username', USERNAME, '--display-name', DISPLAY_NAME, '--password-stdin', '--database-url', db], `${PASSWORD}\n`);
  await run(BIN, ['import', 'units', join(HERE, 'fixtures', 'units.csv'), '--database-url', db]);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const log = createWriteStream(join(ARTIFACTS, 'server.log'));
  server = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--database-url', db], { stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.pipe(log);
  server.stderr.pipe(log);
  await waitHealthy(`${base}/healthz`, 30_000);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: false, args: LAUNCH_ARGS, timeout: 60_000 });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => { server.once('close', r); setTimeout(r, 5000); });
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('signs in through the login page (phone 390×844)', async () => {
  const ctx = await newContext('phone');
  const page = await newPage(ctx, 'login');
  await page.goto(`${base}/`);
  await page.waitForURL(`${base}/dang-nhap`);
  await page.getByLabel('Tên đăng nhập').fill(USERNAME);
  await page.getByLabel('Mật khẩu').fill('sai-mat-khau-roi');
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
  await page.getByRole('alert').filter({ hasText: 'Tên đăng nhập hoặc mật khẩu không đúng.' }).waitFor();
  await shot(page, '01-login-error-phone');

  await page.getByLabel('Mật khẩu').fill(PASSWORD);
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
  await page.waitForURL(`${base}/`);
  await page.locator('body[data-ready="true"]').waitFor();
  assert.equal(await page.locator('#account-name').textContent(), DISPLAY_NAME);
  assert.equal(await page.locator('#account-role').textContent(), 'Ban tổ chức');
  assert.equal(await page.getByRole('button', { name: 'Đăng xuất' }).isVisible(), true);
  await page.getByRole('heading', { name: 'Buổi học tập chuyên đề' }).waitFor();
  // No horizontal scrolling on a phone.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the phone screen`);
  await shot(page, '02-home-phone');
  await checkTranslations(page, 'login');
  signedIn = await ctx.storageState();
  await ctx.close();
});

test('the unit tree shows the province and expands to a commune', async () => {
  const page = await signedInPage('desktop', 'units');
  await page.goto(`${base}/#don-vi`);
  const province = page.locator('.tree-link', { hasText: 'Tỉnh Thử Nghiệm' });
  await province.waitFor();
  await page.getByRole('button', { name: 'Mở đơn vị cấp dưới của Tỉnh Thử Nghiệm' }).click();
  const commune = page.locator('.tree-link', { hasText: 'Xã Hòa Bình' });
  await commune.waitFor();
  assert.equal(await page.getByRole('button', { name: 'Mở đơn vị cấp dưới của Tỉnh Thử Nghiệm' }).getAttribute('aria-expanded'), 'true');
  await commune.click();
  await page.waitForURL(/#don-vi\/00101$/);
  const crumbs = page.getByRole('navigation', { name: 'Vị trí trong cây' });
  await crumbs.getByRole('link', { name: 'Tỉnh Thử Nghiệm' }).waitFor();
  assert.equal(await crumbs.locator('[aria-current="page"]').textContent(), 'Xã Hòa Bình');
  await page.getByRole('button', { name: 'Mở đơn vị cấp dưới của Xã Hòa Bình' }).click();
  await page.locator('.tree-link', { hasText: 'Chi bộ thôn Nà Làng' }).waitFor();
  await shot(page, '03-units-tree');

  // Search without diacritics.
  await page.getByLabel('Tìm đơn vị theo tên hoặc mã').fill('hoa binh');
  await page.getByRole('button', { name: 'Tìm', exact: true }).click();
  await page.locator('.result-list a', { hasText: 'Xã Hòa Bình' }).waitFor();
  await checkTranslations(page, 'units');
  await page.context().close();
});

test('a units CSV import with an error shows the problem table with its line number', async () => {
  const page = await signedInPage('desktop', 'import');
  await page.goto(`${base}/#don-vi`);
  await page.locator('summary', { hasText: 'Nhập đơn vị từ tệp CSV' }).click();
  const panel = page.locator('details', { has: page.locator('summary', { hasText: 'Nhập đơn vị từ tệp CSV' }) });
  assert.match(await panel.locator('.csv-format').textContent(), /^code,name,kind,parent_code\[,expected_cadre/);
  const bad = 'code,name,kind,parent_code\nX01,Xã Một,commune,T01\nX02,Xã Hai,hanh-tinh,T01\nX03,Xã Ba,commune,T01\n';
  await panel.locator('input[type=file]').setInputFiles({ name: 'don-vi-loi.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
  await panel.getByRole('button', { name: 'Nhập tệp' }).click();
  const table = panel.locator('table.problems');
  await table.waitFor();
  const rows = table.locator('tbody tr');
  assert.equal(await rows.count(), 1);
  assert.equal((await rows.first().locator('td').first().textContent()).trim(), '3');
  assert.equal((await rows.first().locator('td').nth(1).textContent()).trim(), 'kind');
  assert.match(await panel.getByRole('alert').textContent(), /không dòng nào được nhập/);
  await shot(page, '04-units-import-problems');

  // Nothing was imported.
  const res = await page.evaluate(async () => (await fetch('/api/units?q=X01')).json());
  assert.equal(res.total, 0);

  // A good file is imported and counted.
  const good = 'code,name,kind,parent_code\n00103,Xã Tân Lập,commune,T01\n';
  await panel.locator('input[type=file]').setInputFiles({ name: 'don-vi.csv', mimeType: 'text/csv', buffer: Buffer.from(good) });
  await panel.getByRole('button', { name: 'Nhập tệp' }).click();
  await panel.getByRole('status').filter({ hasText: 'Đã nhập: 1 mới, 0 cập nhật.' }).waitFor();
  await checkTranslations(page, 'import');
  await page.context().close();
});

test('creates a session, registers a point and shows its operator link once', async () => {
  const page = await signedInPage('desktop', 'sessions');
  await page.goto(`${base}/#buoi-hoc`);
  await page.locator('summary', { hasText: 'Tạo buổi học' }).click();
  await page.getByLabel('Chủ đề').fill(THEME);
  await page.getByLabel('Mã đơn vị chủ trì').fill('T01');
  await page.getByLabel('Bắt đầu').fill('2026-12-01T08:00');
  await page.getByLabel('Kết thúc').fill('2026-12-01T07:00');
  await page.getByLabel('Kênh truyền hình').fill('Kênh TN1 – Đài Phát thanh và Truyền hình tỉnh');
  await page.getByLabel('Giờ phát sóng').fill('2026-12-01T08:00');
  await page.getByRole('button', { name: 'Tạo buổi học', exact: true }).click();
  // The server's Vietnamese message appears under the field it is about.
  await page.locator('.field', { has: page.getByLabel('Kết thúc') }).getByRole('alert')
    .filter({ hasText: 'Giờ kết thúc phải sau giờ bắt đầu.' }).waitFor();
  assert.equal(await page.getByLabel('Kết thúc').getAttribute('aria-invalid'), 'true');
  await page.getByLabel('Kết thúc').fill('2026-12-01T11:30');
  await page.getByRole('button', { name: 'Tạo buổi học', exact: true }).click();
  await page.waitForURL(/#buoi-hoc\/\d+$/);
  sessionUrl = page.url();
  await page.getByRole('heading', { level: 1, name: THEME }).waitFor();
  const facts = page.locator('dl.facts');
  assert.match(await facts.textContent(), /01\/12\/2026 08:00 – 11:30/);
  assert.match(await facts.textContent(), /Kênh TN1/);
  assert.equal(await page.locator('.page-head .badge').textContent(), 'Đã lên lịch');

  await page.getByLabel('Mã đơn vị', { exact: true }).fill('00101');
  await page.getByLabel('Tên điểm cầu').fill(POINT_NAME);
  await page.getByLabel('Địa điểm').fill('Tầng 2, trụ sở Đảng ủy – HĐND – UBND xã');
  await page.getByLabel('Sức chứa').fill('120');
  await page.getByLabel('Tên người phụ trách').fill('Nguyễn Thị Hoa');
  await page.getByLabel('Số điện thoại người phụ trách').fill('0912 345 678');
  await page.getByRole('button', { name: 'Đăng ký điểm cầu' }).click();
  const secret = page.locator('.secret-panel');
  await secret.waitFor();
  operatorLink = await secret.locator('input.secret').inputValue();
  assert.match(operatorLink, /^http:\/\/127\.0\.0\.1:\d+\/diem-cau#\S{16,}$/);
  assert.match(await secret.textContent(), /Chỉ hiển thị một lần/);
  await secret.getByRole('button', { name: 'Sao chép' }).waitFor();
  const row = page.locator('tbody tr', { hasText: POINT_NAME });
  await row.waitFor();
  assert.match(await row.textContent(), /Xã Hòa Bình/);
  assert.match(await row.textContent(), /0912345678/);
  assert.match(await row.textContent(), /Đang hiệu lực/);
  await shot(page, '05-session-point-link');

  // Edit: add the recording address and a description.
  await page.locator('summary', { hasText: 'Sửa thông tin buổi học' }).click();
  const edit = page.locator('details', { has: page.locator('summary', { hasText: 'Sửa thông tin buổi học' }) });
  await edit.getByLabel('Mô tả').fill('Học tập trực tuyến từ cấp tỉnh đến cấp xã.');
  await edit.getByLabel('Địa chỉ video ghi hình (tự học)').fill('https://video.example.vn/hoc-tap-chuyen-de');
  await edit.getByRole('button', { name: 'Lưu' }).click();
  await page.locator('dl.facts a', { hasText: 'https://video.example.vn/hoc-tap-chuyen-de' }).waitFor();
  assert.match(await page.locator('dl.facts').textContent(), /Học tập trực tuyến từ cấp tỉnh đến cấp xã\./);
  await page.locator('tbody tr', { hasText: POINT_NAME }).waitFor();

  // Status only moves forward, with a confirmation.
  await page.getByRole('button', { name: 'Mở điểm danh' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Xác nhận' }).click();
  await page.locator('.page-head .badge', { hasText: 'Đang mở điểm danh' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Mở điểm danh' }).count(), 0);
  await checkTranslations(page, 'sessions');
  await page.context().close();
});

test('the operator link opens the console with the point and the session (phone)', async () => {
  assert.ok(operatorLink, 'needs the session test to pass first');
  const ctx = await newContext('phone'); // no account: the link is the key
  const page = await newPage(ctx, 'console');
  await page.goto(operatorLink);
  await page.locator('#pt-name').waitFor();
  assert.equal(await page.locator('#pt-name').textContent(), POINT_NAME);
  assert.equal(await page.locator('#ss-theme').textContent(), THEME);
  assert.ok(!page.url().includes('#'), `the secret should leave the address bar: ${page.url()}`);
  assert.match(await page.locator('main').textContent(), /Kênh TN1/);
  await page.locator('#conn', { hasText: 'Trực tuyến' }).waitFor();
  // Check-in opens on 1 December: the console says so; the roster of the commune is empty.
  await page.getByText('Chưa đến giờ điểm danh (mở lúc 01/12/2026 07:00).').waitFor();
  await page.locator('#checkin').getByText('Đơn vị của điểm cầu chưa có danh sách thành viên.', { exact: false }).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `console is ${overflow}px wider than the phone screen`);
  await shot(page, '06-console-phone');

  // A refresh still works: the secret was kept on the device.
  await page.reload();
  await page.locator('#pt-name', { hasText: POINT_NAME }).waitFor();
  await page.locator('#conn', { hasText: 'Trực tuyến' }).waitFor();

  // Rotating the link from the organizer page turns the old one off.
  const admin = await signedInPage('desktop', 'rotate');
  await admin.goto(sessionUrl);
  await admin.locator('tbody tr', { hasText: POINT_NAME }).getByRole('button', { name: 'Cấp lại đường dẫn' }).click();
  await admin.getByRole('dialog').getByRole('button', { name: 'Xác nhận' }).click();
  const fresh = admin.locator('.secret-panel input.secret');
  await fresh.waitFor();
  const newLink = await fresh.inputValue();
  assert.notEqual(newLink, operatorLink);
  await admin.context().close();

  // The open console hears it at once (close 4401), without a reload.
  await page.getByRole('heading', { name: 'Đường dẫn không còn hiệu lực' }).waitFor();
  assert.match(await page.locator('main').textContent(), /liên hệ ban tổ chức/);
  await shot(page, '07-console-link-rotated');

  await page.goto(newLink);
  await page.locator('#pt-name', { hasText: POINT_NAME }).waitFor();
  await page.locator('#conn', { hasText: 'Trực tuyến' }).waitFor();
  await checkTranslations(page, 'console');
  await ctx.close();
});

test('units: add a subunit, edit it and delete it', async () => {
  const page = await signedInPage('desktop', 'units-crud');
  await page.goto(`${base}/#don-vi/00102`);
  await page.getByRole('heading', { level: 2, name: 'Phường Đức Xuân' }).waitFor();
  await page.locator('summary', { hasText: 'Thêm đơn vị cấp dưới' }).click();
  const add = page.locator('details', { has: page.locator('summary', { hasText: 'Thêm đơn vị cấp dưới' }) });
  await add.getByLabel('Mã đơn vị').fill('00102-CB01');
  await add.getByLabel('Tên đơn vị').fill('Chi bộ tổ dân phố số 1');
  assert.equal(await add.getByLabel('Loại đơn vị').inputValue(), 'cell');
  await add.getByRole('button', { name: 'Lưu' }).click();
  await add.getByRole('status').filter({ hasText: 'Đã tạo đơn vị "Chi bộ tổ dân phố số 1".' }).waitFor();

  await page.goto(`${base}/#don-vi/00102-CB01`);
  await page.getByRole('heading', { level: 2, name: 'Chi bộ tổ dân phố số 1' }).waitFor();
  await page.locator('summary', { hasText: 'Sửa đơn vị' }).click();
  const edit = page.locator('details', { has: page.locator('summary', { hasText: 'Sửa đơn vị' }) });
  await edit.getByLabel('Tên đơn vị').fill('Chi bộ Tổ dân phố số 1');
  await edit.getByLabel('Đảng viên').fill('35');
  await edit.getByRole('button', { name: 'Lưu' }).click();
  await page.getByRole('heading', { level: 2, name: 'Chi bộ Tổ dân phố số 1' }).waitFor();
  await page.getByRole('status').filter({ hasText: 'Đã lưu thay đổi.' }).waitFor();
  assert.match(await page.locator('.detail-pane').textContent(), /Đảng viên\s*35/);

  await page.getByRole('button', { name: 'Xóa', exact: true }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Xóa' }).click();
  await page.getByRole('heading', { level: 2, name: 'Phường Đức Xuân' }).waitFor();
  await page.getByRole('status').filter({ hasText: 'Đã xóa đơn vị.' }).waitFor();
  assert.match(page.url(), /#don-vi\/00102$/);

  // A unit still in use cannot be deleted: the server's reason is shown.
  await page.goto(`${base}/#don-vi/00101`);
  await page.getByRole('heading', { level: 2, name: 'Xã Hòa Bình' }).waitFor();
  await page.getByRole('button', { name: 'Xóa', exact: true }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Xóa' }).click();
  await page.getByRole('alert').filter({ hasText: 'Không thể xóa' }).waitFor();
  await checkTranslations(page, 'units-crud');
  await page.context().close();
});

test('members: add, find without diacritics, edit, delete and import', async () => {
  const page = await signedInPage('desktop', 'members');
  await page.goto(`${base}/#thanh-vien`);
  await page.getByRole('heading', { name: 'Danh sách thành viên' }).waitFor();
  await page.getByText('Không có thành viên phù hợp.').waitFor();
  await page.locator('summary', { hasText: 'Thêm thành viên' }).click();
  const add = page.locator('details', { has: page.locator('summary', { hasText: 'Thêm thành viên' }) });
  await add.getByLabel('Mã thành viên').fill('00000001');
  await add.getByLabel('Họ và tên').fill('Đặng Thị Ánh');
  await add.getByLabel('Mã đơn vị').fill('00101');
  await add.getByRole('button', { name: 'Thêm thành viên' }).click();
  await add.getByRole('status').filter({ hasText: 'Đã thêm thành viên "Đặng Thị Ánh".' }).waitFor();
  const row = page.locator('tbody tr', { hasText: '00000001' });
  await row.waitFor();
  assert.match(await row.textContent(), /Đặng Thị Ánh.*Đảng viên.*Xã Hòa Bình/);

  await page.getByLabel('Họ tên hoặc mã thành viên').fill('dang thi anh');
  await page.getByRole('search').getByRole('button', { name: 'Tìm' }).click();
  await page.waitForURL(/#thanh-vien\?q=dang\+thi\+anh/);
  await page.locator('tbody tr', { hasText: 'Đặng Thị Ánh' }).waitFor();
  assert.match(await page.locator('.pager-info').textContent(), /1 mục/);

  await page.locator('tbody tr', { hasText: '00000001' }).getByRole('button', { name: 'Sửa' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Họ và tên').fill('Đặng Thị Ánh Hồng');
  await dialog.getByLabel('Đối tượng').selectOption('civil_servant');
  await dialog.getByRole('button', { name: 'Lưu' }).click();
  await page.locator('tbody tr', { hasText: 'Đặng Thị Ánh Hồng' }).waitFor();
  assert.match(await page.locator('tbody tr', { hasText: '00000001' }).textContent(), /Công chức/);
  await shot(page, '11-members');

  await page.locator('tbody tr', { hasText: '00000001' }).getByRole('button', { name: 'Xóa' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Xóa' }).click();
  await page.getByText('Không có thành viên phù hợp.').waitFor();

  await page.goto(`${base}/#thanh-vien`);
  await page.locator('summary', { hasText: 'Nhập thành viên từ tệp CSV' }).click();
  const panel = page.locator('details', { has: page.locator('summary', { hasText: 'Nhập thành viên từ tệp CSV' }) });
  assert.equal(await panel.locator('.csv-format').textContent(), 'member_code,full_name,category,unit_code');
  const bad = 'member_code,full_name,category,unit_code\n00000002,Lê Ư,party_member,00101\n00000003,Âu Dương Đức Ý,party_member,KHONG-CO\n';
  await panel.locator('input[type=file]').setInputFiles({ name: 'thanh-vien.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
  await panel.getByRole('button', { name: 'Nhập tệp' }).click();
  const first = panel.locator('table.problems tbody tr').first();
  await first.waitFor();
  assert.equal((await first.locator('td').first().textContent()).trim(), '3');
  const good = 'member_code,full_name,category,unit_code\n00000002,Lê Ư,party_member,00101\n00000003,Âu Dương Đức Ý,đảng viên,00101\n';
  await panel.locator('input[type=file]').setInputFiles({ name: 'thanh-vien.csv', mimeType: 'text/csv', buffer: Buffer.from(good) });
  await panel.getByRole('button', { name: 'Nhập tệp' }).click();
  await panel.getByRole('status').filter({ hasText: 'Đã nhập: 2 mới, 0 cập nhật.' }).waitFor();
  await page.locator('tbody tr', { hasText: 'Âu Dương Đức Ý' }).waitFor();
  await checkTranslations(page, 'members');
  await page.context().close();
});

test('accounts: a unit manager sees only their subtree; a locked account is signed out', async () => {
  const page = await signedInPage('desktop', 'accounts');
  await page.goto(`${base}/#tai-khoan`);
  await page.locator('summary', { hasText: 'Tạo tài khoản' }).click();
  const form = page.locator('details', { has: page.locator('summary', { hasText: 'Tạo tài khoản' }) });
  await form.getByLabel('Tên đăng nhập').fill('quanly.hoabinh');
  await form.getByLabel('Tên hiển thị').fill('Quản lý xã Hòa Bình');
  await form.getByLabel('Mật khẩu').fill('Mat-khau-quan-ly-1');
  await form.getByLabel('Vai trò').selectOption('manager');
  await form.getByLabel('Mã đơn vị quản lý').fill('00101');
  await form.getByRole('button', { name: 'Tạo tài khoản' }).click();
  const row = page.locator('tbody tr', { hasText: 'quanly.hoabinh' });
  await row.waitFor();
  assert.match(await row.textContent(), /Quản lý đơn vị.*Xã Hòa Bình.*Đang hoạt động/);

  // The manager signs in (phone) and sees only their own subtree.
  const mctx = await newContext('phone');
  const m = await newPage(mctx, 'manager');
  await m.goto(`${base}/dang-nhap`);
  await m.getByLabel('Tên đăng nhập').fill('quanly.hoabinh');
  await m.getByLabel('Mật khẩu').fill('Mat-khau-quan-ly-1');
  await m.getByRole('button', { name: 'Đăng nhập' }).click();
  await m.waitForURL(`${base}/`);
  await m.locator('body[data-ready="true"]').waitFor();
  assert.equal(await m.locator('#account-role').textContent(), 'Quản lý đơn vị');
  assert.equal(await m.locator('#account-unit').textContent(), 'Xã Hòa Bình (00101)');
  await m.goto(`${base}/#don-vi`);
  await m.locator('.tree-link', { hasText: 'Xã Hòa Bình' }).waitFor();
  assert.equal(await m.locator('.tree-link', { hasText: 'Tỉnh Thử Nghiệm' }).count(), 0);
  assert.equal(await m.locator('summary', { hasText: 'Thêm đơn vị gốc' }).count(), 0);
  await m.goto(`${base}/#tai-khoan`);
  await m.locator('summary', { hasText: 'Tạo tài khoản' }).click();
  assert.equal(await m.getByLabel('Vai trò').isVisible(), false, 'managers cannot create organizers');
  // The province's session is visible but not changeable by the commune.
  await m.goto(sessionUrl);
  await m.getByRole('heading', { level: 1, name: THEME }).waitFor();
  assert.equal(await m.getByRole('button', { name: 'Bắt đầu' }).count(), 0);
  await m.locator('tbody tr', { hasText: POINT_NAME }).waitFor();
  await shot(m, '12-manager-session-phone');

  // Locking the account signs the manager out.
  await row.getByRole('button', { name: 'Khóa' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Khóa' }).click();
  await page.locator('tbody tr', { hasText: 'quanly.hoabinh' }).filter({ hasText: 'Đã khóa' }).waitFor();
  await m.reload();
  // Sent to sign in, to come back to the session afterwards.
  await m.waitForURL(/\/dang-nhap\?next=%2F%23buoi-hoc%2F\d+$/);
  await checkTranslations(m, 'manager');
  await mctx.close();

  // API tokens: shown once, then revoked.
  await page.locator('summary', { hasText: 'Tạo mã truy cập' }).click();
  await page.getByLabel('Tên (mục đích sử dụng)').fill('Đồng bộ hệ thống quản lý đảng viên');
  await page.getByLabel('Số ngày hiệu lực').fill('30');
  await page.getByRole('button', { name: 'Tạo mã truy cập' }).click();
  const token = await page.locator('.secret-panel input.secret').inputValue();
  assert.match(token, /^dc_/);
  const me = await fetch(`${base}/api/auth/me`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(me.status, 200);
  const trow = page.locator('tbody tr', { hasText: 'Đồng bộ hệ thống quản lý đảng viên' });
  await trow.waitFor();
  await shot(page, '13-accounts');
  await trow.getByRole('button', { name: 'Thu hồi' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Thu hồi' }).click();
  await page.getByText('Chưa có mã truy cập nào.').waitFor();
  const gone = await fetch(`${base}/api/auth/me`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(gone.status, 401);

  // Own password: the two new ones must match (checked before sending).
  await page.getByLabel('Mật khẩu hiện tại').fill(PASSWORD);
  await page.getByLabel('Mật khẩu mới', { exact: true }).fill('Mot-mat-khau-moi-1');
  await page.getByLabel('Nhập lại mật khẩu mới').fill('Mot-mat-khau-moi-2');
  await page.getByRole('button', { name: 'Đổi mật khẩu' }).click();
  await page.getByRole('alert').filter({ hasText: 'Hai lần nhập mật khẩu mới không khớp.' }).waitFor();
  await checkTranslations(page, 'accounts');
  await page.context().close();
});

test('the language toggle switches labels to English and remembers it', async () => {
  const page = await signedInPage('desktop', 'lang');
  await page.goto(`${base}/#buoi-hoc`);
  await page.locator('body[data-ready="true"]').waitFor();
  const nav = page.getByRole('navigation', { name: 'Các mục chính' });
  await nav.getByRole('link', { name: 'Buổi học' }).waitFor();
  await page.getByRole('button', { name: 'EN', exact: true }).click();
  await page.getByRole('navigation', { name: 'Main sections' }).getByRole('link', { name: 'Sessions' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Sign out' }).isVisible(), true);
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  await page.getByRole('heading', { name: 'Thematic study sessions' }).waitFor();
  assert.equal(await page.locator('tbody .badge').first().textContent(), 'Check-in open');
  await shot(page, '08-english');
  await page.reload();
  await page.getByRole('link', { name: 'Units' }).waitFor();
  await page.getByRole('button', { name: 'VI', exact: true }).click();
  await page.getByRole('link', { name: 'Đơn vị' }).waitFor();
  await checkTranslations(page, 'lang');
  await page.context().close();
});

test('signing out ends the session', async () => {
  const page = await signedInPage('phone', 'logout');
  await page.goto(`${base}/#buoi-hoc`);
  await page.locator('body[data-ready="true"]').waitFor();
  await page.getByRole('button', { name: 'Đăng xuất' }).click();
  await page.waitForURL(`${base}/dang-nhap`);
  await page.goto(`${base}/#don-vi`);
  await page.waitForURL(`${base}/dang-nhap?next=%2F%23don-vi`);
  const res = await page.evaluate(async () => (await fetch('/api/auth/me')).status);
  assert.equal(res, 401);
  await page.context().close();
});

test('the API docs page and the 404 page render', async () => {
  const ctx = await newContext('desktop');
  const page = await newPage(ctx, 'docs');
  await page.goto(`${base}/api/docs`);
  await page.locator('body[data-ready="true"]').waitFor();
  const op = page.locator('#op-create_session');
  await op.waitFor();
  assert.match(await op.locator('.op-title').textContent(), /POST\s*\/api\/sessions/);
  assert.match(await op.textContent(), /host_unit_code/);
  const schema = page.locator('#schema-SessionView');
  assert.match(await schema.textContent(), /point_count/);
  await page.locator('#tag-units').waitFor();
  assert.doesNotMatch(await page.locator('main').textContent(), /\[object |undefined/);
  await page.screenshot({ path: join(ARTIFACTS, '09-api-docs.png') });
  await checkTranslations(page, 'docs');

  const nf = await newPage(ctx, '404');
  const res = await nf.goto(`${base}/khong-co-trang-nay`);
  assert.equal(res.status(), 404);
  await nf.getByRole('heading', { name: 'Không tìm thấy trang' }).waitFor();
  await nf.getByRole('link', { name: 'Về trang chủ' }).waitFor();
  await shot(nf, '10-not-found');
  await checkTranslations(nf, '404');
  await ctx.close();
});

// ------------------------------------------------------------ check-in at a live session

const LIVE_THEME = 'Học tập, quán triệt Nghị quyết – buổi học trực tuyến đang diễn ra';
const QR_POINT = 'Nhà văn hóa thôn Nà Làng';
const CONSOLE_POINT = 'Hội trường Đảng ủy xã Hòa Bình';
let live = null; // {session, qrLink, consoleLink, qrPointId, consolePointId}

/** Calls the API as the organizer (session cookie + CSRF header), from Node. */
async function organizerApi() {
  const res = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: USERNAME, password: PASSWORD }),
  });
  assert.equal(res.status, 200, 'organizer sign-in over the API');
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const { csrf_token: csrf } = await res.json();
  return async (method, path, json) => {
    const r = await fetch(`${base}/api${path}`, {
      method,
      headers: { cookie, 'x-csrf-token': csrf, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
      body: json === undefined ? undefined : JSON.stringify(json),
    });
    const text = await r.text();
    let body = text;
    try { body = JSON.parse(text); } catch { /* HTML */ }
    return { status: r.status, body };
  };
}

/** Calls the API with an operator link's secret. */
async function operatorGet(link, path) {
  const secret = decodeURIComponent(link.split('#')[1]);
  const r = await fetch(`${base}/api${path}`, { headers: { Authorization: `Operator ${secret}` } });
  assert.equal(r.status, 200, `GET ${path} as the operator`);
  return r.json();
}

async function rosterLine(link, code) {
  const roster = await operatorGet(link, '/operator/roster');
  const line = roster.find((l) => l.code === code);
  assert.ok(line, `member ${code} on the roster`);
  return line;
}

/** Polls `check` (async, truthy when done) until it holds or `ms` pass. */
async function until(check, ms, what) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await check();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Members, a session open for check-in now, and two points with their operator links. */
async function liveSession() {
  if (live) return live;
  await run(BIN, ['import', 'members', join(HERE, 'fixtures', 'members.csv'), '--database-url', dbUrl]);
  const api = await organizerApi();
  const now = Date.now();
  const iso = (ms) => new Date(ms).toISOString();
  const s = await api('POST', '/sessions', {
    theme: LIVE_THEME,
    host_unit_code: 'T01',
    starts_at: iso(now + 15 * 60_000),
    ends_at: iso(now + 3 * 3600_000),
    checkin_opens_at: iso(now - 30 * 60_000),
    checkin_closes_at: iso(now + 3 * 3600_000),
    broadcast: { tv_channel: 'Kênh TN1 – Đài Phát thanh và Truyền hình tỉnh' },
  });
  assert.equal(s.status, 201, JSON.stringify(s.body));
  const open = await api('POST', `/sessions/${s.body.id}/status`, { status: 'open' });
  assert.equal(open.status, 200, JSON.stringify(open.body));
  const a = await api('POST', `/sessions/${s.body.id}/points`, { unit_code: '00101-CB01', name: QR_POINT, capacity: 40 });
  assert.equal(a.status, 201, JSON.stringify(a.body));
  const b = await api('POST', `/sessions/${s.body.id}/points`, { unit_code: '00101', name: CONSOLE_POINT, capacity: 120, operator_name: 'Nguyễn Thị Hoa' });
  assert.equal(b.status, 201, JSON.stringify(b.body));
  live = {
    api,
    session: s.body,
    qrLink: a.body.operator_link,
    qrPointId: a.body.point.id,
    consoleLink: b.body.operator_link,
    consolePointId: b.body.point.id,
  };
  return live;
}

/** The text of a member's printed card, read from the unit's card sheet. */
async function cardText(unitCode, memberCode) {
  const { api } = await liveSession();
  const sheet = await api('GET', `/units/${encodeURIComponent(unitCode)}/cards`);
  assert.equal(sheet.status, 200);
  const cards = (String(sheet.body).match(/<svg[\s\S]*?<\/svg>/g) || []).map(decodeSvg);
  const card = cards.find((c) => c.startsWith(`DC1.${memberCode}.`));
  assert.ok(card, `card of ${memberCode} on the sheet of ${unitCode}: ${cards.join(', ')}`);
  return card;
}

test('a member checks in from the point QR code on a phone; the page weighs under 30 KB', async () => {
  const { qrLink } = await liveSession();
  const qr = await operatorGet(qrLink, '/operator/qr');
  assert.match(qr.link, /^http:\/\/127\.0\.0\.1:\d+\/c\/\S+$/);
  // The QR image carries exactly that link.
  assert.equal(decodeSvg(qr.svg), qr.link);

  const ctx = await newContext('phone');
  const page = await newPage(ctx, 'checkin');
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Network.enable');
  const sizes = new Map();
  cdp.on('Network.loadingFinished', (e) => sizes.set(e.requestId, e.encodedDataLength));
  cdp.on('Network.loadingFailed', (e) => sizes.set(e.requestId, 0));
  await page.goto(qr.link, { waitUntil: 'networkidle' });
  await page.getByRole('heading', { level: 1, name: QR_POINT }).waitFor();
  await page.getByText(LIVE_THEME).waitFor();
  const bytes = [...sizes.values()].reduce((a, b) => a + b, 0);
  const perf = await page.evaluate(() => [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')]
    .reduce((sum, e) => sum + (e.transferSize || 0), 0));
  assert.ok(sizes.size >= 3, `requests seen: ${sizes.size}`);
  assert.ok(bytes < 30 * 1024, `the check-in page transferred ${bytes} bytes (≥ 30 KB)`);
  assert.ok(perf < 30 * 1024, `the check-in page transferred ${perf} bytes by Resource Timing (≥ 30 KB)`);
  console.log(`# check-in page: ${bytes} bytes over ${sizes.size} requests (Resource Timing: ${perf})`);

  await page.getByLabel('Mã thành viên').fill('10000005');
  await page.getByRole('button', { name: 'Điểm danh', exact: true }).tap();
  await page.getByText('✓ Đã điểm danh').waitFor();
  assert.match(await page.locator('#result-text').textContent(), /Hoàng Văn Em/);
  await shot(page, '14-checkin-phone');

  // The phone remembers the code: reload, one tap.
  await page.reload();
  await page.getByRole('heading', { level: 1, name: QR_POINT }).waitFor();
  assert.equal(await page.getByLabel('Mã thành viên').inputValue(), '10000005');
  await page.getByRole('button', { name: 'Điểm danh', exact: true }).tap();
  await page.getByText('Bạn đã điểm danh rồi').waitFor();
  assert.match(await page.locator('#result-text').textContent(), new RegExp(QR_POINT));

  // An unknown code: the server's Vietnamese reason.
  await page.getByRole('button', { name: 'Điểm danh cho mã khác' }).tap();
  await page.getByLabel('Mã thành viên').fill('99999999');
  await page.getByRole('button', { name: 'Điểm danh', exact: true }).tap();
  await page.getByText('Chưa điểm danh được').waitFor();
  assert.match(await page.locator('#result-text').textContent(), /Không tìm thấy mã thành viên "99999999"/);
  await shot(page, '15-checkin-unknown-phone');

  const line = await rosterLine(qrLink, '10000005');
  assert.ok(line.checked_in_at, 'the member is checked in');
  assert.equal(line.checked_in_point, QR_POINT);
  await ctx.close();
});

test('the point console: QR on screen, roster ticks, offline queue replayed by itself', async () => {
  const { consoleLink } = await liveSession();
  const ctx = await newContext('desktop');
  const page = await newPage(ctx, 'console-live');
  const sent = [];
  page.on('websocket', (ws) => ws.on('framesent', (f) => sent.push(String(f.payload))));
  await page.goto(consoleLink);
  await page.locator('#conn', { hasText: 'Trực tuyến' }).waitFor();
  assert.equal(await page.locator('#pt-name').textContent(), CONSOLE_POINT);
  const qrImg = page.locator('#qr-img');
  assert.match(await qrImg.getAttribute('src'), /^data:image\/svg\+xml;charset=utf-8,/);
  assert.ok(await qrImg.evaluate((img) => img.complete && img.naturalWidth > 0), 'the QR image renders');
  const qrBox = await qrImg.boundingBox();
  assert.ok(qrBox.width >= 250, `QR is ${qrBox.width}px wide`);
  await page.getByText('Quét mã để điểm danh').first().waitFor();

  // Projection: the QR code fills the screen, then back.
  await page.getByRole('button', { name: 'Trình chiếu mã QR' }).click();
  const projector = page.getByRole('dialog', { name: CONSOLE_POINT });
  await projector.waitFor();
  const big = await projector.locator('img').boundingBox();
  assert.ok(big.height >= 500, `projected QR is ${big.height}px high`);
  await shot(page, '16-console-projector');
  await projector.getByRole('button', { name: 'Thoát trình chiếu' }).click();
  await projector.waitFor({ state: 'hidden' });

  // The member who checked in with their phone shows where.
  const row = (name) => page.locator('.roster-row', { hasText: name });
  await row('Hoàng Văn Em').getByText(`tại ${QR_POINT}`).waitFor();

  // Search without diacritics.
  await page.getByLabel('Tìm theo tên hoặc mã').fill('tran thi binh');
  await until(async () => (await page.locator('.roster-row').count()) === 1, 5000, 'the search to narrow the roster');
  await row('Trần Thị Bình').waitFor();
  await page.getByLabel('Tìm theo tên hoặc mã').fill('');
  const everyone = (await operatorGet(consoleLink, '/operator/roster')).length;
  await until(async () => (await page.locator('.roster-row').count()) === everyone, 5000, 'the whole roster');

  // Tick one member: checked in on the server.
  await row('Nguyễn Văn An').getByRole('button', { name: 'Có mặt' }).click();
  await row('Nguyễn Văn An').getByText(/Có mặt lúc \d\d:\d\d/).waitFor();
  assert.ok((await rosterLine(consoleLink, '10000001')).checked_in_at, '10000001 checked in on the server');
  assert.equal((await page.locator('#count').textContent()).trim(), '1');

  // The link drops: two more ticks and a head count stay on the device.
  await ctx.setOffline(true);
  await page.locator('#conn', { hasText: 'Mất kết nối' }).waitFor();
  await row('Trần Thị Bình').getByRole('button', { name: 'Có mặt' }).click();
  await row('Lê Văn Cường').getByRole('button', { name: 'Có mặt' }).click();
  await page.getByLabel('Số người ngoài danh sách (khách, Nhân dân)').fill('15');
  await page.getByRole('button', { name: 'Báo số người' }).click();
  await page.locator('#conn', { hasText: 'Mất kết nối – đang lưu tạm 3 thao tác' }).waitFor();
  await row('Trần Thị Bình').getByText('đang chờ gửi').waitFor();
  await row('Lê Văn Cường').getByText('đang chờ gửi').waitFor();
  assert.equal((await page.locator('#count').textContent()).trim(), '3', 'the count grows, never shrinks');
  assert.equal((await page.locator('#head-value').textContent()).trim(), '15');
  assert.match(await page.locator('#head-line').textContent(), /Đang chờ gửi/);
  const queued = await page.evaluate(() => Object.keys(localStorage)
    .filter((k) => k.endsWith('.queue')).flatMap((k) => JSON.parse(localStorage.getItem(k))));
  assert.deepEqual(queued.map((q) => q.msg.type), ['checkin', 'checkin', 'head_count']);
  assert.ok(queued.every((q) => q.offline && q.msg.id && q.msg.taken_at), 'queued with id and taken_at');
  assert.equal((await rosterLine(consoleLink, '10000002')).checked_in_at, null, 'not on the server yet');
  await shot(page, '17-console-offline');

  // The link returns: the queue replays by itself.
  await ctx.setOffline(false);
  await until(async () => {
    const roster = await operatorGet(consoleLink, '/operator/roster');
    return ['10000002', '10000003'].every((c) => roster.find((l) => l.code === c).checked_in_at);
  }, 30_000, 'the queued check-ins on the server');
  const point = await until(async () => {
    const p = await operatorGet(consoleLink, '/operator/point');
    return p.stats.head_count === 15 ? p : null;
  }, 10_000, 'the head count on the server');
  assert.equal(point.stats.checked_in, 3, 'three ticks, three members: nobody counted twice');
  await page.locator('#conn', { hasText: /^Trực tuyến$/ }).waitFor();
  await row('Lê Văn Cường').getByText(/Có mặt lúc \d\d:\d\d/).waitFor();
  assert.equal((await page.locator('#count').textContent()).trim(), '3');
  assert.doesNotMatch(await page.locator('#head-line').textContent(), /Đang chờ gửi/);
  const replayed = sent.map((f) => JSON.parse(f)).filter((m) => m.type === 'checkin' && ['10000002', '10000003'].includes(m.member_code));
  assert.ok(replayed.length >= 2 && replayed.every((m) => m.replayed === true && m.method === 'roster'), `replayed: ${JSON.stringify(replayed)}`);
  const live1 = sent.map((f) => JSON.parse(f)).find((m) => m.type === 'checkin' && m.member_code === '10000001');
  assert.equal(live1.replayed, false);

  // Undo a check-in made here (within the undo window).
  await row('Lê Văn Cường').getByRole('button', { name: 'Hủy' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Hủy lượt điểm danh' }).click();
  await row('Lê Văn Cường').getByText('Chưa điểm danh').waitFor();
  await until(async () => (await operatorGet(consoleLink, '/operator/point')).stats.checked_in === 2, 10_000, 'the undo on the server');
  assert.equal((await rosterLine(consoleLink, '10000003')).checked_in_at, null);

  // Absent with a reason.
  await row('Phạm Thị Dung').getByRole('button', { name: 'Vắng' }).click();
  await page.getByRole('dialog').getByLabel('Lý do vắng').fill('Đi công tác');
  await page.getByRole('dialog').getByRole('button', { name: 'Báo vắng' }).click();
  await row('Phạm Thị Dung').getByText('Vắng: Đi công tác').waitFor();
  await until(async () => (await rosterLine(consoleLink, '10000004')).absent, 10_000, 'the absence on the server');
  assert.equal((await rosterLine(consoleLink, '10000004')).absent_reason, 'Đi công tác');

  // Filters.
  await page.getByRole('button', { name: /^Vắng \(1\)$/ }).click();
  assert.equal(await page.locator('.roster-row').count(), 1);
  await page.getByRole('button', { name: /^Đã điểm danh \(3\)$/ }).click();
  assert.equal(await page.locator('.roster-row').count(), 3);
  await page.getByRole('button', { name: /^Tất cả/ }).click();

  // Every operation got its own id.
  const ids = sent.map((f) => JSON.parse(f)).filter((m) => m.type !== 'heartbeat' && m.type !== 'refresh').map((m) => m.id);
  assert.ok(ids.every(Boolean), 'every change carries an id');

  // English.
  await page.getByRole('button', { name: 'EN', exact: true }).click();
  await page.locator('#conn', { hasText: /^Online$/ }).waitFor();
  assert.match(await page.locator('#count-line').textContent(), /Checked in at this point:\s*2/);
  await page.getByRole('button', { name: 'Project the QR code' }).waitFor();
  await shot(page, '18-console-english');
  await page.getByRole('button', { name: 'VI', exact: true }).click();
  await page.locator('#conn', { hasText: 'Trực tuyến' }).waitFor();
  await shot(page, '19-console-desktop');
  await checkTranslations(page, 'console-live');
  await ctx.close();
});

test('member cards: a forged one is refused on the device, a genuine one checks in (phone, offline too)', async () => {
  const { consoleLink } = await liveSession();
  const genuine = await cardText('00101-CB01', '10000006');
  const forged = genuine.replace('DC1.10000006.', 'DC1.10000007.');
  const ctx = await newContext('phone');
  const page = await newPage(ctx, 'console-cards');
  const sent = [];
  page.on('websocket', (ws) => ws.on('framesent', (f) => sent.push(String(f.payload))));
  await page.goto(consoleLink);
  await page.locator('#conn', { hasText: 'Trực tuyến' }).waitFor();
  // The camera button only where BarcodeDetector exists.
  const detector = await page.evaluate(() => 'BarcodeDetector' in window);
  assert.equal(await page.getByRole('button', { name: 'Quét thẻ bằng camera' }).count(), detector ? 1 : 0);

  const cardInput = page.getByLabel('Mã trên thẻ thành viên');
  await cardInput.fill(forged);
  await cardInput.press('Enter'); // what a keyboard-wedge scanner does
  const result = page.locator('#card-result');
  await result.getByText('Thẻ không hợp lệ: chữ ký không đúng').waitFor();
  assert.equal(await cardInput.inputValue(), '');
  await page.waitForTimeout(300);
  assert.ok(!sent.some((f) => f.includes('10000007')), 'nothing about the forged card was sent');
  assert.equal((await rosterLine(consoleLink, '10000007')).checked_in_at, null);
  await shot(page, '20-console-card-forged-phone');

  // Offline: still refused locally; a genuine card is queued, then sent.
  await ctx.setOffline(true);
  await page.locator('#conn', { hasText: 'Mất kết nối' }).waitFor();
  await cardInput.fill(`${forged.slice(0, -2)}AA`);
  await cardInput.press('Enter');
  await result.getByText('Thẻ không hợp lệ').waitFor();
  await cardInput.fill(genuine);
  await cardInput.press('Enter');
  await result.getByText('Đỗ Thị Giang').waitFor();
  await result.getByText('Đang chờ gửi').waitFor();
  await page.locator('#conn', { hasText: 'Mất kết nối – đang lưu tạm 1 thao tác' }).waitFor();
  await ctx.setOffline(false);
  await result.getByText(/Có mặt lúc \d\d:\d\d/).waitFor({ timeout: 30_000 });
  const line = await rosterLine(consoleLink, '10000006');
  assert.ok(line.checked_in_at);
  assert.equal(line.checkin_method, 'card');
  assert.equal(line.checked_in_point, CONSOLE_POINT);
  const cardMsg = sent.map((f) => JSON.parse(f)).find((m) => m.type === 'checkin' && m.method === 'card');
  assert.equal(cardMsg.card, genuine);
  assert.equal(cardMsg.replayed, true);
  assert.ok(!sent.some((f) => f.includes('10000007')), 'forged cards were never sent');

  // The same card again: known here, nothing new is sent.
  const before = sent.length;
  await cardInput.fill(genuine);
  await cardInput.press('Enter');
  await result.getByText('Đã điểm danh trước đó').waitFor();
  assert.equal(sent.filter((f, i) => i >= before && f.includes('"checkin"')).length, 0);

  // Plain http on a LAN has no WebCrypto: the JavaScript check gives the same answers.
  const plain = await page.evaluate(async ([good, bad]) => {
    const { parseCard, b64urlDecode } = await import('/assets/console-card.js');
    const { verifyP256 } = await import('/assets/console-p256.js');
    const p = await (await fetch('/api/operator/point', { headers: { Authorization: `Operator ${localStorage.getItem('diemcau.operator')}` } })).json();
    const key = b64urlDecode(p.card_public_key);
    const check = (text) => {
      const c = parseCard(text);
      return verifyP256(key, new TextEncoder().encode(`diemcau-card:1:${c.code}`), c.signature);
    };
    return [check(good), check(bad)];
  }, [genuine, forged]);
  assert.deepEqual(plain, [true, false]);

  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `console is ${overflow}px wider than the phone screen`);
  const small = await page.evaluate(() => [...document.querySelectorAll('main button, main input')]
    .filter((el) => el.offsetParent && el.getBoundingClientRect().height < 44)
    .map((el) => el.outerHTML.slice(0, 80)));
  assert.deepEqual(small, [], 'touch targets at least 44 px high');
  await shot(page, '21-console-card-phone');
  await checkTranslations(page, 'console-cards');
  await ctx.close();
});

test('a revoked operator link stops the open console (close code 4401)', async () => {
  const { qrLink, qrPointId, api } = await liveSession();
  const ctx = await newContext('phone');
  const page = await newPage(ctx, 'console-revoked');
  await page.goto(qrLink);
  await page.locator('#conn', { hasText: 'Trực tuyến' }).waitFor();
  const res = await api('DELETE', `/points/${qrPointId}/operator-link`);
  assert.equal(res.status, 204);
  // The instance that revoked it closes the console at once with 4401.
  await page.getByRole('heading', { name: 'Đường dẫn không còn hiệu lực' }).waitFor({ timeout: 5_000 });
  assert.match(await page.locator('main').textContent(), /liên hệ ban tổ chức/);
  assert.equal(await page.evaluate(() => localStorage.getItem('diemcau.operator')), null);
  await shot(page, '22-console-revoked-phone');
  await checkTranslations(page, 'console-revoked');
  await ctx.close();
});

// ------------------------------------------------------------ live dashboard, TV overlay, the public side

const DASH_THEME = 'Hội nghị học tập chuyên đề – theo dõi trực tiếp từ tỉnh đến xã';
const DASH_A = 'Hội trường xã Hòa Bình (trực tiếp)'; // at 00101
const DASH_B = 'Nhà văn hóa thôn Nà Làng (trực tiếp)'; // at 00101-CB01
const DASH_C = 'Hội trường phường Đức Xuân'; // at 00102
const STREAM_URL = 'https://truc-tuyen.example.vn/hoc-tap-chuyen-de';
const MANAGER = { username: 'quanly.hoabinh2', password: 'Mat-khau-quan-ly-2' };
let dash = null; // {api, id, a, b, c}: each point {id, link}

/** 2.701 → 2701 */
const vnInt = (text) => Number(String(text).trim().replace(/\./g, ''));

/** A page signed in afresh as the organizer (the first sign-in was ended by the logout test). */
async function organizerPage(kind, label) {
  const ctx = await newContext(kind);
  const res = await ctx.request.post(`${base}/api/auth/login`, { data: { username: USERNAME, password: PASSWORD } });
  assert.equal(res.status(), 200, 'organizer sign-in');
  return newPage(ctx, label);
}

/** POSTs as a point operator (the link's secret in the Authorization header). */
async function operatorPost(link, path, json) {
  const secret = decodeURIComponent(link.split('#')[1]);
  const r = await fetch(`${base}/api${path}`, {
    method: 'POST',
    headers: { Authorization: `Operator ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify(json),
  });
  return { status: r.status, body: await r.json() };
}

async function operatorCheckin(link, memberCode) {
  const r = await operatorPost(link, '/operator/checkins', {
    items: [{ id: `dash-${memberCode}-${Date.now()}`, method: 'roster', member_code: memberCode }],
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.results[0].answer.result, 'checked_in', JSON.stringify(r.body));
}

async function publicFigures(id) {
  const r = await fetch(`${base}/api/public/sessions/${id}/figures`, { cache: 'no-store' });
  assert.equal(r.status, 200);
  return r.json();
}

/**
 * A session open for check-in now, made before anything reads its tally:
 * points at the commune (A), its village cell (B) and the ward (C); Xã Tân Lập
 * gets an expected head count and nobody in it: the laggard.
 */
async function dashSession() {
  if (dash) return dash;
  const { api } = await liveSession(); // the members are imported there
  const unit = await api('PATCH', '/units/00103', { expected: { party_member: 40 } });
  assert.equal(unit.status, 200, JSON.stringify(unit.body));
  const now = Date.now();
  const iso = (ms) => new Date(ms).toISOString();
  const s = await api('POST', '/sessions', {
    theme: DASH_THEME,
    host_unit_code: 'T01',
    starts_at: iso(now + 10 * 60_000),
    ends_at: iso(now + 3 * 3600_000),
    checkin_opens_at: iso(now - 30 * 60_000),
    checkin_closes_at: iso(now + 3 * 3600_000),
    broadcast: {
      tv_channel: 'Kênh TN1 – Đài Phát thanh và Truyền hình tỉnh',
      air_time: iso(now + 10 * 60_000),
      stream_url: STREAM_URL,
      recording_url: 'https://video.example.vn/hoc-tap-chuyen-de-2025',
    },
  });
  assert.equal(s.status, 201, JSON.stringify(s.body));
  const open = await api('POST', `/sessions/${s.body.id}/status`, { status: 'open' });
  assert.equal(open.status, 200, JSON.stringify(open.body));
  const point = async (unit_code, name, extra = {}) => {
    const r = await api('POST', `/sessions/${s.body.id}/points`, { unit_code, name, ...extra });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return { id: r.body.point.id, link: r.body.operator_link };
  };
  dash = {
    api,
    id: s.body.id,
    a: await point('00101', DASH_A, { capacity: 120, operator_name: 'Nguyễn Thị Hoa', operator_phone: '0912345678' }),
    b: await point('00101-CB01', DASH_B, { capacity: 40 }),
    c: await point('00102', DASH_C, { operator_name: 'Lò Văn Sơn', operator_phone: '0987654321' }),
  };
  return dash;
}

test('the live dashboard counts a check-in as it happens, in the reports\' words', async () => {
  const d = await dashSession();
  const page = await organizerPage('desktop', 'dashboard');
  const received = [];
  page.on('websocket', (ws) => ws.on('framereceived', (f) => received.push(JSON.parse(String(f.payload)))));
  // From the session in the organizer app.
  await page.goto(`${base}/#buoi-hoc/${d.id}`);
  const links = page.getByRole('navigation', { name: 'Theo dõi và công bố' });
  assert.equal(await links.getByRole('link', { name: 'Trang công khai' }).getAttribute('href'), `/s/${d.id}`);
  assert.equal(await links.getByRole('link', { name: 'Lớp phủ truyền hình' }).getAttribute('href'), `/tv/${d.id}/overlay`);
  await links.getByRole('link', { name: 'Theo dõi trực tiếp' }).click();
  await page.waitForURL(`${base}/truc-tiep/${d.id}`);
  await page.locator('body[data-ready="true"]').waitFor();
  await page.getByRole('heading', { level: 1, name: DASH_THEME }).waitFor();
  await page.locator('#conn[data-state="live"]', { hasText: 'Trực tiếp' }).waitFor();
  assert.equal(vnInt(await page.locator('#v-participants').textContent()), 0);
  assert.equal(await page.locator('#summary').textContent(),
    'Toàn Tỉnh Thử Nghiệm có 0 điểm cầu kết nối, với tổng số 0 cán bộ, đảng viên, công chức, viên chức, người lao động tham gia.');
  assert.equal((await page.locator('#v-points').textContent()).trim(), '0/3');

  // A check-in through the operator API shows without a reload.
  const t0 = Date.now();
  await operatorCheckin(d.a.link, '10000001');
  await until(async () => vnInt(await page.locator('#v-participants').textContent()) === 1, 5000, 'the headline to count the check-in');
  console.log(`# dashboard showed the check-in after ${Date.now() - t0} ms`);
  assert.match(await page.locator('#summary').textContent(), /với tổng số 1 cán bộ, đảng viên/);
  assert.ok(received.some((m) => m.type === 'update'), 'the change came as a socket update');
  assert.ok(await page.locator('#chart svg .chart-bar[data-count="1"]').count() >= 1, 'the chart has the minute of the check-in');

  // 1 500 guests reported by the point: Vietnamese thousands.
  const hc = await operatorPost(d.a.link, '/operator/head-count', { count: 1500 });
  assert.equal(hc.status, 200, JSON.stringify(hc.body));
  await page.locator('#v-participants', { hasText: /^1\.501$/ }).waitFor({ timeout: 5000 });
  assert.match(await page.locator('#summary').textContent(), /với tổng số 1\.501 cán bộ/);
  assert.match(await page.locator('#s-participants').textContent(), /1 thành viên · 1\.500 khách/);
  assert.match(await page.locator('#version').textContent(), /^số liệu v\d+$/);
  await shot(page, '23-dashboard');

  await page.getByRole('button', { name: 'EN', exact: true }).click();
  await page.locator('#conn', { hasText: 'Live' }).waitFor();
  assert.match(await page.locator('#summary').textContent(), /^Across Tỉnh Thử Nghiệm: 0 connection points connected, with 1\.501 cadres/);
  await page.getByRole('tab', { name: 'By unit' }).waitFor();
  await page.getByRole('button', { name: 'VI', exact: true }).click();
  await page.getByRole('tab', { name: 'Theo đơn vị' }).waitFor();

  // The laptop loses the network: the badge says so; back online, the page
  // reconnects and converges on the figures it missed.
  const sockets = received.filter((m) => m.type === 'snapshot').length;
  await page.context().setOffline(true);
  await page.locator('#conn[data-state="reconnecting"]', { hasText: 'Mất kết nối – đang kết nối lại…' }).waitFor();
  await operatorCheckin(d.b.link, '10000005');
  await page.waitForTimeout(500);
  assert.equal(vnInt(await page.locator('#v-participants').textContent()), 1501, 'nothing arrives while offline');
  await page.context().setOffline(false);
  await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 });
  await page.locator('#v-participants', { hasText: /^1\.502$/ }).waitFor({ timeout: 5000 });
  assert.ok(received.filter((m) => m.type === 'snapshot').length > sockets, 'a fresh snapshot after reconnecting');
  await checkTranslations(page, 'dashboard');
  await page.context().close();
});

test('the dashboard tree: a commune\'s points and coverage, the laggard first, the readiness board', async () => {
  const d = await dashSession();
  // Point A is open now; point C was open and closed; point B never was.
  const consoles = await newContext('phone');
  const ca = await newPage(consoles, 'dash-console-a');
  await ca.goto(d.a.link);
  await ca.locator('#conn', { hasText: 'Trực tuyến' }).waitFor();
  const cc = await newPage(consoles, 'dash-console-c');
  await cc.goto(d.c.link);
  await cc.locator('#conn', { hasText: 'Trực tuyến' }).waitFor();
  await cc.close();
  await until(async () => {
    const r = await d.api('GET', `/sessions/${d.id}/points`);
    const c = r.body.find((p) => p.id === d.c.id);
    return c.status === 'offline' && c.last_seen_at;
  }, 10_000, 'point C to be offline, seen before');

  const page = await organizerPage('desktop', 'dashboard-tree');
  const sent = [];
  page.on('websocket', (ws) => ws.on('framesent', (f) => sent.push(JSON.parse(String(f.payload)))));
  await page.goto(`${base}/truc-tiep/${d.id}`);
  await page.locator('body[data-ready="true"]').waitFor();
  await page.locator('#conn[data-state="live"]').waitFor();
  const top = page.locator('#tree > li.droot');
  assert.equal(await top.locator('> .drow .dname-text').textContent(), 'Tỉnh Thử Nghiệm');
  const children = top.locator('> ul > li.dunit');
  await children.first().waitFor();
  const order = async () => children.evaluateAll((lis) => lis.map((li) => li.getAttribute('data-code')));
  assert.deepEqual(await order(), ['T01-BTG', '00102', '00101', '00103'], 'by name, Vietnamese order');
  await until(async () => (await page.locator('#v-points').textContent()).trim() === '1/3', 10_000, 'one point connected of three');

  // Expand the commune: its point with status, figures and the gap flag; its cell.
  await page.getByRole('button', { name: 'Mở đơn vị cấp dưới của Xã Hòa Bình' }).click();
  const commune = page.locator('li.dunit[data-code="00101"]');
  const pointA = commune.locator('li.dpoint', { hasText: DASH_A });
  await pointA.waitFor();
  assert.ok(sent.some((m) => m.type === 'watch' && m.units.includes('00101')), `watch sent: ${JSON.stringify(sent)}`);
  assert.equal(await page.getByRole('button', { name: 'Mở đơn vị cấp dưới của Xã Hòa Bình' }).getAttribute('aria-expanded'), 'true');
  await pointA.locator('.pt-status', { hasText: 'Trực tuyến' }).waitFor();
  assert.equal(await pointA.getAttribute('data-status'), 'online');
  assert.match(await pointA.textContent(), /Điểm danh: 1/);
  assert.match(await pointA.textContent(), /Ngoài danh sách: 1\.500/);
  await pointA.locator('.flag', { hasText: 'chênh lệch lớn' }).waitFor();
  // Coverage of the commune: 1 of its 9 members (rosters of the commune and its cell).
  const tallied = await page.evaluate(async (id) => (await fetch(`/api/sessions/${id}/tally?unit=00101`)).json(), d.id);
  assert.equal(tallied.node.roster, 9);
  const cov = commune.locator('> .drow .dcov-text');
  assert.equal(await cov.textContent(), `${(tallied.node.coverage * 100).toFixed(1).replace('.', ',').replace(/,0$/, '')}%`);
  assert.match(await commune.locator('> .drow .dcov-sub').textContent(), /Danh sách 9/);
  const barWidth = await commune.locator('> .drow .bar-fill').evaluate((el) => el.getBoundingClientRect().width);
  assert.ok(barWidth > 0, 'the coverage bar is drawn');
  await page.getByRole('button', { name: 'Mở đơn vị cấp dưới của Chi bộ thôn Nà Làng' }).click();
  const pointB = page.locator('li.dpoint', { hasText: DASH_B });
  await pointB.locator('.pt-status', { hasText: 'Chưa kết nối' }).waitFor();
  assert.equal(await pointB.locator('.flag').isVisible(), false);

  // Lowest coverage first: Xã Tân Lập (nobody of 40 expected) leads.
  await page.getByLabel('Sắp xếp').selectOption('coverage');
  await until(async () => (await order())[0] === '00103', 3000, 'the laggard first');
  const sorted = await order();
  assert.equal(sorted[1], '00101', `then the commune with some coverage: ${sorted}`);
  assert.match(await page.locator('li.dunit[data-code="00103"] > .drow .dcov-text').textContent(), /^0%$/);
  await shot(page, '24-dashboard-tree');

  // Search among the loaded rows, without diacritics.
  await page.getByLabel('Tìm đơn vị, điểm cầu (gõ không dấu cũng được)').fill('na lang');
  await until(async () => !(await page.locator('li.dunit[data-code="00102"]').isVisible()), 3000, 'the filter to hide the ward');
  assert.equal(await page.locator('li.dunit[data-code="00101-CB01"]').isVisible(), true);
  assert.equal(await pointB.isVisible(), true);
  await page.getByLabel('Tìm đơn vị, điểm cầu (gõ không dấu cũng được)').fill('');
  await page.locator('li.dunit[data-code="00102"]').waitFor();

  // Collapse, then find the cell on the server and jump to it.
  await page.getByRole('button', { name: 'Mở đơn vị cấp dưới của Xã Hòa Bình' }).click();
  await pointA.waitFor({ state: 'detached' });
  await page.getByLabel('Tìm đơn vị, điểm cầu (gõ không dấu cũng được)').fill('na lang');
  await page.getByRole('button', { name: 'Tìm trong toàn bộ đơn vị' }).click();
  await page.locator('#search-results').getByRole('button', { name: /Chi bộ thôn Nà Làng/ }).click();
  const cell = page.locator('li.dunit[data-code="00101-CB01"]');
  await cell.locator('> .drow .dname-text').waitFor();
  await until(async () => (await page.evaluate(() => document.activeElement && document.activeElement.textContent)) === 'Chi bộ thôn Nà Làng', 5000, 'the jump to focus the cell');
  await pointB.waitFor();
  assert.equal(await page.getByLabel('Tìm đơn vị, điểm cầu (gõ không dấu cũng được)').inputValue(), '');

  // The readiness board: online, silent, never connected, lost.
  await page.getByRole('tab', { name: /^Sẵn sàng/ }).click();
  const group = (g) => page.locator(`.ready-group[data-group="${g}"]`);
  await group('online').locator('.ready-item', { hasText: DASH_A }).waitFor();
  await group('never').locator('.ready-item', { hasText: DASH_B }).waitFor();
  await group('lost').locator('.ready-item', { hasText: DASH_C }).waitFor();
  assert.equal((await group('online').locator('.ready-count').textContent()).trim(), '1');
  assert.equal((await group('stale').locator('.ready-count').textContent()).trim(), '0');
  assert.equal(await group('lost').getByRole('link', { name: '0987654321' }).getAttribute('href'), 'tel:0987654321');
  assert.match(await group('lost').locator('.ready-item').textContent(), /Tín hiệu cuối: \d\d\/\d\d\/\d{4} \d\d:\d\d/);
  assert.equal(await page.getByRole('tab', { name: /^Sẵn sàng/ }).textContent(), 'Sẵn sàng (1/3)');
  assert.equal(await page.locator('#panel-units').isVisible(), false);
  await shot(page, '25-dashboard-readiness');

  // The console closes: the board moves the point to "lost" by itself.
  await consoles.close();
  await group('lost').locator('.ready-item', { hasText: DASH_A }).waitFor({ timeout: 15_000 });
  await checkTranslations(page, 'dashboard-tree');
  await page.context().close();
});

test('a unit manager\'s dashboard shows only their subtree', async () => {
  const d = await dashSession();
  const acc = await d.api('POST', '/accounts', {
    username: MANAGER.username, display_name: 'Quản lý xã Hòa Bình (2)', password: MANAGER.password, role: 'manager', unit_code: '00101',
  });
  assert.equal(acc.status, 201, JSON.stringify(acc.body));
  const ctx = await newContext('desktop');
  const page = await newPage(ctx, 'dashboard-manager');
  await page.goto(`${base}/dang-nhap`);
  await page.getByLabel('Tên đăng nhập').fill(MANAGER.username);
  await page.getByLabel('Mật khẩu').fill(MANAGER.password);
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
  await page.waitForURL(`${base}/`);
  await page.goto(`${base}/truc-tiep/${d.id}`);
  await page.locator('body[data-ready="true"]').waitFor();
  await page.locator('#conn[data-state="live"]').waitFor();
  const top = page.locator('#tree > li.droot');
  assert.equal(await top.locator('> .drow .dname-text').textContent(), 'Xã Hòa Bình');
  assert.match(await page.locator('#summary').textContent(), /^Toàn Xã Hòa Bình có \d+ điểm cầu kết nối, với tổng số 1\.502 cán bộ/);
  assert.equal(vnInt(await page.locator('#v-participants').textContent()), 1502);
  await top.locator('li.dpoint', { hasText: DASH_A }).waitFor();
  await top.locator('li.dunit[data-code="00101-CB01"]').waitFor();
  for (const other of ['Phường Đức Xuân', 'Xã Tân Lập', 'Tỉnh Thử Nghiệm', DASH_C]) {
    assert.equal(await page.locator('#tree').getByText(other).count(), 0, `${other} is outside the manager's subtree`);
  }
  // Nor over HTTP, nor on the readiness board.
  const outside = await page.evaluate(async (id) => (await fetch(`/api/sessions/${id}/tally?unit=00102`)).status, d.id);
  assert.equal(outside, 404);
  await page.getByRole('tab', { name: /^Sẵn sàng/ }).click();
  await page.locator('.ready-item', { hasText: DASH_A }).waitFor();
  assert.equal(await page.locator('.ready-item', { hasText: DASH_C }).count(), 0);
  assert.match(await page.getByRole('tab', { name: /^Sẵn sàng/ }).textContent(), /^Sẵn sàng \(\d\/2\)$/);
  await shot(page, '26-dashboard-manager');
  await checkTranslations(page, 'dashboard-manager');
  await ctx.close();
});

test('the TV overlay: transparent, the running total and the home QR, updated after a check-in (1920×1080)', async () => {
  const d = await dashSession();
  const ctx = await newContext('desktop', { viewport: { width: 1920, height: 1080 } });
  const page = await newPage(ctx, 'overlay');
  const res = await page.goto(`${base}/tv/${d.id}/overlay`);
  assert.match(res.headers()['content-security-policy'], /frame-ancestors \*/);
  const box = page.locator('#lt');
  await box.waitFor();
  for (const sel of ['html', 'body']) {
    const bg = await page.locator(sel).evaluate((el) => getComputedStyle(el).backgroundColor);
    assert.ok(bg === 'rgba(0, 0, 0, 0)' || bg === 'transparent', `${sel} background is ${bg}`);
  }
  const before = await publicFigures(d.id);
  await page.locator('#total', { hasText: new Intl.NumberFormat('vi-VN').format(before.participants) }).waitFor();
  assert.match(await box.textContent(), /người tham gia/);
  assert.equal(await page.locator('#points').textContent(), `${before.points_connected}/${before.points_registered}`);
  assert.match(await box.textContent(), /điểm cầu kết nối/);
  await page.getByText('Quét mã để điểm danh tại nhà').waitFor();
  const qr = page.locator('#qr-img');
  assert.equal(await qr.getAttribute('src'), `/api/public/sessions/${d.id}/home-qr.svg`);
  await until(async () => qr.evaluate((img) => img.complete && img.naturalWidth > 0), 5000, 'the QR image to render');
  const svg = await (await fetch(`${base}/api/public/sessions/${d.id}/home-qr.svg`)).text();
  assert.equal(decodeSvg(svg), `${base}/tv/${d.id}`);
  const rect = await box.boundingBox();
  assert.ok(rect.y + rect.height <= 1080 * 0.95 + 1 && rect.x >= 1920 * 0.05 - 1, `inside the title-safe area: ${JSON.stringify(rect)}`);
  const qrBox = await qr.boundingBox();
  assert.ok(qrBox.width >= 180, `QR is ${qrBox.width}px wide`);

  await operatorCheckin(d.a.link, '10000002');
  const want = new Intl.NumberFormat('vi-VN').format(before.participants + 1);
  await page.locator('#total', { hasText: want }).waitFor({ timeout: 5000 });
  await page.waitForTimeout(800); // the change highlight fades
  await page.screenshot({ path: join(ARTIFACTS, '27-overlay-1920x1080.png'), omitBackground: true });

  // On the right, without the QR code.
  const right = await newPage(ctx, 'overlay-right');
  await right.goto(`${base}/tv/${d.id}/overlay?pos=right&qr=0`);
  await right.locator('#lt.lt-right').waitFor();
  assert.equal(await right.locator('#qr-img').count(), 0);
  const r = await right.locator('#lt').boundingBox();
  assert.ok(r.x + r.width > 1920 * 0.9, `on the right: ${JSON.stringify(r)}`);
  await right.screenshot({ path: join(ARTIFACTS, '28-overlay-right-noqr.png'), omitBackground: true });
  await ctx.close();
});

test('checking in from home by the TV QR code: a member by code, the public by commune (phone)', async () => {
  const d = await dashSession();
  const before = await publicFigures(d.id);
  const ctx = await newContext('phone');
  const page = await newPage(ctx, 'home');
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Network.enable');
  const sizes = new Map();
  cdp.on('Network.loadingFinished', (e) => sizes.set(e.requestId, e.encodedDataLength));
  await page.goto(`${base}/tv/${d.id}`, { waitUntil: 'networkidle' });
  await page.getByRole('heading', { level: 1, name: DASH_THEME }).waitFor();
  const bytes = [...sizes.values()].reduce((a, b) => a + b, 0);
  assert.ok(bytes < 30 * 1024, `the home check-in page transferred ${bytes} bytes (≥ 30 KB)`);
  console.log(`# home check-in page: ${bytes} bytes over ${sizes.size} requests`);
  assert.match(await page.locator('#channel').textContent(), /Kênh TN1/);

  // A member, by code.
  assert.equal(await page.getByRole('tab', { name: /Cán bộ, đảng viên/ }).getAttribute('aria-selected'), 'true');
  await page.getByLabel('Mã thành viên').fill('10000007');
  await page.getByRole('button', { name: 'Điểm danh', exact: true }).tap();
  await page.locator('#result-title', { hasText: '✓ Đã ghi nhận' }).waitFor();
  assert.match(await page.locator('#result-text').textContent(), /Vũ Văn Hùng/);
  assert.equal(await page.evaluate(() => localStorage.getItem('diemcau.member_code')), '10000007');
  const device = await page.evaluate(() => localStorage.getItem('diemcau.device_id'));
  assert.match(device, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  await shot(page, '29-home-member-phone');

  // An unknown code: the server's reason.
  await page.getByRole('button', { name: 'Điểm danh cho người khác' }).tap();
  await page.getByLabel('Mã thành viên').fill('99999999');
  await page.getByRole('button', { name: 'Điểm danh', exact: true }).tap();
  await page.locator('#result-title', { hasText: 'Chưa ghi nhận được' }).waitFor();
  assert.match(await page.locator('#result-text').textContent(), /99999999/);

  // The public: pick the ward.
  await page.getByRole('tab', { name: /Nhân dân/ }).tap();
  await page.getByLabel(/Xã, phường nơi bạn đang theo dõi/).fill('duc xuan');
  await until(async () => (await page.locator('#units li').count()) === 1, 5000, 'the list to narrow to the ward');
  await page.locator('#units').getByRole('button', { name: 'Phường Đức Xuân' }).tap();
  await page.getByText('Đã chọn: Phường Đức Xuân').waitFor();
  await page.getByRole('button', { name: 'Ghi nhận theo dõi' }).tap();
  await page.locator('#result-title', { hasText: '✓ Đã ghi nhận' }).waitFor();
  assert.match(await page.locator('#result-text').textContent(), /Cảm ơn bạn đã theo dõi buổi học tại Phường Đức Xuân/);
  assert.equal(await page.getByRole('button', { name: 'Điểm danh cho người khác' }).isVisible(), false);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `home page is ${overflow}px wider than the phone screen`);
  await shot(page, '30-home-public-phone');
  // The same phone again: counted once.
  await page.getByRole('button', { name: 'Ghi nhận theo dõi' }).tap();
  await page.locator('#result-title', { hasText: 'Đã ghi nhận trước đó' }).waitFor();

  const after = await publicFigures(d.id);
  assert.equal(after.following_broadcast, before.following_broadcast + 2, JSON.stringify({ before, after }));
  assert.equal(after.participants, before.participants + 2);

  // Reopened later: the public tab remembers the ward.
  await page.evaluate(() => localStorage.removeItem('diemcau.member_code'));
  await page.reload();
  assert.equal(await page.getByRole('tab', { name: /Nhân dân/ }).getAttribute('aria-selected'), 'true');
  await page.getByText('Đã chọn: Phường Đức Xuân').waitFor();
  await ctx.close();
});

test('the public session page: theme, stream, live figures, home check-in and the calendar feed', async () => {
  const d = await dashSession();
  const ctx = await newContext('phone');
  const page = await newPage(ctx, 'public-session');
  await page.goto(`${base}/s/${d.id}`, { waitUntil: 'domcontentloaded' });
  await page.getByRole('heading', { level: 1, name: DASH_THEME }).waitFor();
  await page.locator('body[data-ready="true"]').waitFor();
  assert.equal(await page.locator('#status').textContent(), 'Đang mở điểm danh');
  assert.match(await page.locator('.facts').textContent(), /Tỉnh Thử Nghiệm/);
  assert.match(await page.locator('.facts').textContent(), /Kênh TN1/);
  assert.match(await page.locator('#time').textContent(), /^\d\d\/\d\d\/\d{4} \d\d:\d\d – /);
  // The stream is embedded while check-in is open; the recording comes afterwards.
  assert.equal(await page.locator('#player iframe').getAttribute('src'), STREAM_URL);
  assert.equal(await page.locator('#recording').isVisible(), false);
  const figures = await publicFigures(d.id);
  assert.equal(vnInt(await page.locator('#participants').textContent()), figures.participants);
  assert.equal(await page.locator('#summary').textContent(), figures.summary);
  assert.equal(await page.getByRole('link', { name: 'Điểm danh khi theo dõi tại nhà' }).getAttribute('href'), `/tv/${d.id}`);
  const ics = page.getByRole('link', { name: /iCalendar/ });
  assert.equal(await ics.getAttribute('href'), '/api/public/sessions.ics');
  const res = await fetch(`${base}/api/public/sessions.ics`);
  assert.match(res.headers.get('content-type'), /^text\/calendar/);
  const text = await res.text();
  assert.ok(text.startsWith('BEGIN:VCALENDAR'), text.slice(0, 40));
  assert.ok(text.replace(/\r\n /g, '').includes(`SUMMARY:${DASH_THEME}`), 'the session is in the feed');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `public page is ${overflow}px wider than the phone screen`);
  await shot(page, '31-public-session-phone');

  await page.getByRole('button', { name: 'EN', exact: true }).click();
  await page.getByRole('heading', { name: 'Live figures' }).waitFor();
  assert.equal(await page.locator('#status').textContent(), 'Check-in open');
  await page.getByRole('button', { name: 'VI', exact: true }).click();
  await page.getByRole('heading', { name: 'Số liệu trực tiếp' }).waitFor();
  await checkTranslations(page, 'public-session');

  // An unknown session.
  await page.goto(`${base}/s/999999`);
  await page.getByRole('heading', { name: 'Không tìm thấy buổi học' }).waitFor();
  await ctx.close();
});

// ------------------------------------------------------------ after the session: reports, make-up, history, webhooks

const MAKEUP_THEME = 'Học bù chuyên đề qua bản ghi – buổi học đã kết thúc';
const RECORDING_PATH = '/ghi-hinh/hoc-bu-6s.wav';
const RECORDING_S = 6;
let makeup = null; // {id, token, link}

/** N seconds of silence as a WAV file (8 kHz, 16-bit mono): Chromium's <video> plays it. */
function silentWav(seconds, rate = 8000) {
  const data = seconds * rate * 2;
  const buf = Buffer.alloc(44 + data); // zeros: silence
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + data, 4);
  buf.write('WAVE', 8, 'ascii');
  buf.write('fmt ', 12, 'ascii');
  buf.writeUInt32LE(16, 16); // PCM header size
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28); // bytes per second
  buf.writeUInt16LE(2, 32); // block align
  buf.writeUInt16LE(16, 34); // bits per sample
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(data, 40);
  return buf;
}

/**
 * Serves the recording at RECORDING_PATH on the page's own origin (the pages'
 * CSP allows media from 'self' only), with byte ranges as a media server does.
 */
async function serveRecording(ctx, body = silentWav(RECORDING_S), type = 'audio/wav') {
  await ctx.route(`${base}${RECORDING_PATH}`, async (route) => {
    const range = /bytes=(\d*)-(\d*)/.exec(route.request().headers().range || '');
    if (!range || type !== 'audio/wav') {
      await route.fulfill({ status: 200, contentType: type, headers: { 'accept-ranges': 'bytes' }, body });
      return;
    }
    const start = range[1] ? Number(range[1]) : 0;
    const end = range[2] ? Math.min(Number(range[2]), body.length - 1) : body.length - 1;
    await route.fulfill({
      status: 206,
      contentType: type,
      headers: { 'accept-ranges': 'bytes', 'content-range': `bytes ${start}-${end}/${body.length}` },
      body: body.subarray(start, end + 1),
    });
  });
}

/**
 * A session that has ended, with a 6-second recording: its schedule is 5 s
 * long, so the server takes the recording's own length (it uses the longer
 * of that and half the scheduled time) and 80% of it completes the make-up.
 * Vũ Văn Hùng (10000007, Xã Hòa Bình) missed it: his personal link.
 */
async function makeupSession() {
  if (makeup) return makeup;
  const { api } = await liveSession();
  const now = Date.now();
  const iso = (ms) => new Date(ms).toISOString();
  const s = await api('POST', '/sessions', {
    theme: MAKEUP_THEME,
    host_unit_code: 'T01',
    starts_at: iso(now - 3600_000),
    ends_at: iso(now - 3600_000 + 5000),
    broadcast: { recording_url: `${base}${RECORDING_PATH}` },
  });
  assert.equal(s.status, 201, JSON.stringify(s.body));
  const ended = await api('POST', `/sessions/${s.body.id}/status`, { status: 'ended' });
  assert.equal(ended.status, 200, JSON.stringify(ended.body));
  const list = await api('GET', `/sessions/${s.body.id}/absentees?unit=00101`);
  assert.equal(list.status, 200, JSON.stringify(list.body));
  const hung = list.body.items.find((a) => a.member_code === '10000007');
  assert.ok(hung, 'Vũ Văn Hùng has not studied');
  assert.match(hung.makeup_link, /^http:\/\/127\.0\.0\.1:\d+\/hoc-bu\/\S+$/);
  makeup = { id: s.body.id, link: hung.makeup_link, token: decodeURIComponent(hung.makeup_link.split('/hoc-bu/')[1]) };
  return makeup;
}

async function makeupView(token) {
  const r = await fetch(`${base}/api/makeup/${encodeURIComponent(token)}`, { cache: 'no-store' });
  assert.equal(r.status, 200);
  return r.json();
}

test('the make-up page counts only what is played: partial progress, a skip not counted, then completion (phone)', async () => {
  const m = await makeupSession();
  const ctx = await newContext('phone');
  await serveRecording(ctx);
  const page = await newPage(ctx, 'makeup');
  await page.goto(m.link);
  await page.locator('body[data-ready="true"]').waitFor();
  await page.getByRole('heading', { level: 1, name: MAKEUP_THEME }).waitFor();
  assert.equal(await page.locator('#member').textContent(), 'Vũ Văn Hùng');
  assert.equal(await page.locator('#unit').textContent(), 'Xã Hòa Bình');
  assert.match(await page.locator('#message').textContent(), /Xem ít nhất 80% bản ghi để hoàn thành/);
  assert.equal(await page.locator('#progress-text').textContent(), 'Đã xem 0% / cần 80%');
  const video = page.locator('video#video');
  assert.equal(await video.getAttribute('preload'), 'metadata');
  assert.ok(await video.evaluate((v) => v.controls), 'the player has its controls');
  await page.waitForFunction(() => document.getElementById('video').readyState >= 1);
  const duration = await video.evaluate((v) => v.duration);
  assert.ok(Math.abs(duration - RECORDING_S) < 0.1, `duration ${duration}`);
  assert.equal(await page.locator('#fallback').isVisible(), false);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `make-up page is ${overflow}px wider than the phone screen`);
  const bytes = await page.evaluate(() => [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')]
    .filter((e) => !e.name.includes('/ghi-hinh/')).reduce((sum, e) => sum + (e.transferSize || 0), 0));
  assert.ok(bytes < 30 * 1024, `the make-up page transferred ${bytes} bytes (≥ 30 KB)`);
  console.log(`# make-up page: ${bytes} bytes without the recording`);
  await shot(page, '32-makeup-phone');

  // Play at normal speed for about 2.5 s, then pause: the pause reports it.
  const sent = [];
  page.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/progress')) sent.push(JSON.parse(r.postData())); });
  await video.evaluate((v) => { v.muted = true; return v.play(); });
  await page.waitForFunction(() => document.getElementById('video').currentTime >= 2.5);
  await video.evaluate((v) => v.pause());
  const first = await until(async () => {
    const v = await makeupView(m.token);
    return v.progress.watched_s > 2 ? v : null;
  }, 10_000, 'the first progress on the server');
  assert.ok(first.progress.watched_s < 4, `watched ${first.progress.watched_s} s after playing ~2.5 s`);
  assert.equal(first.progress.completed, false);
  assert.equal(first.studied, null);
  assert.equal(first.progress.duration_s, RECORDING_S);
  await page.locator('#progress-text', { hasText: /^Đã xem (3\d|4\d)% \/ cần 80%$/ }).waitFor();
  const reported = sent.filter((b) => b.intervals.length);
  assert.ok(reported.length >= 1, JSON.stringify(sent));
  assert.ok(Math.abs(reported[0].duration_s - RECORDING_S) < 0.1);
  assert.ok(reported[0].intervals[0][0] < 0.5, `played from the start: ${JSON.stringify(reported[0].intervals)}`);

  // Skip ahead to 5 s and play to the end: the 2.5 s skipped earn nothing.
  await video.evaluate((v) => { v.currentTime = 5; });
  await page.waitForFunction(() => !document.getElementById('video').seeking);
  await video.evaluate((v) => v.play());
  await page.waitForFunction(() => document.getElementById('video').ended);
  const second = await until(async () => {
    const v = await makeupView(m.token);
    return v.progress.watched_s > first.progress.watched_s + 0.5 ? v : null;
  }, 10_000, 'the last second on the server');
  assert.ok(second.progress.watched_s <= first.progress.watched_s + 1.3,
    `the skip was counted: ${first.progress.watched_s} → ${second.progress.watched_s}`);
  assert.equal(second.progress.completed, false);
  const all = sent.flatMap((b) => b.intervals);
  assert.ok(all.every(([a, b]) => !(a < 4.5 && b > 3.2)), `no interval covers the skipped part: ${JSON.stringify(all)}`);
  assert.equal(await page.locator('#done').isVisible(), false);

  // Back to 2 s and play to the end: 80% reached, the make-up is recorded.
  await video.evaluate((v) => { v.currentTime = 2; });
  await page.waitForFunction(() => !document.getElementById('video').seeking);
  await video.evaluate((v) => v.play());
  await page.locator('#done', { hasText: '✓ Đã hoàn thành học bù' }).waitFor({ timeout: 15_000 });
  const done = await makeupView(m.token);
  assert.equal(done.progress.completed, true);
  assert.equal(done.studied.method, 'makeup');
  assert.ok(done.progress.share >= 0.8, JSON.stringify(done.progress));
  assert.match(await page.locator('#message').textContent(), /đã hoàn thành học bù/);
  assert.equal(await page.locator('#meter').getAttribute('aria-valuenow'), String(Math.floor(done.progress.share * 100 + 1e-9)));
  await shot(page, '33-makeup-done-phone');

  // Counted once, as make-up, apart from live attendance.
  const { api } = await liveSession();
  const left = await api('GET', `/sessions/${m.id}/absentees?unit=00101`);
  assert.ok(!left.body.items.some((a) => a.member_code === '10000007'), 'no longer among the absentees');
  const rep = await api('GET', `/sessions/${m.id}/report?unit=00101`);
  assert.equal(rep.body.rows[0].makeup, 1);
  assert.equal(rep.body.rows[0].participants_live, 0);

  // Reopened later: done, and English.
  await page.reload();
  await page.locator('#done', { hasText: '✓ Đã hoàn thành học bù' }).waitFor();
  await page.getByRole('button', { name: 'EN', exact: true }).click();
  await page.locator('#done', { hasText: '✓ Make-up completed' }).waitFor();
  assert.match(await page.locator('#message').textContent(), /completed the make-up/);
  await page.getByRole('button', { name: 'VI', exact: true }).click();
  await page.locator('#progress-text', { hasText: /^Đã xem \d+% \/ cần 80%$/ }).waitFor();
  await checkTranslations(page, 'makeup');
  await ctx.close();
});

test('the make-up page: a recording that cannot play gives a plain link; a forged link is refused', async () => {
  const m = await makeupSession();
  const ctx = await newContext('phone');
  // The same address answers with a web page instead of media.
  await serveRecording(ctx, Buffer.from('<!doctype html><title>Trang video</title><p>Không phải tệp video</p>'), 'text/html');
  const page = await newPage(ctx, 'makeup-fallback');
  await page.goto(m.link);
  const link = page.getByRole('link', { name: 'Mở bản ghi' });
  await link.waitFor();
  assert.equal(await link.getAttribute('href'), `${base}${RECORDING_PATH}`);
  assert.equal(await page.locator('#player').isVisible(), false);
  assert.match(await page.locator('#fallback').textContent(), /chưa tính được thời gian bạn xem/);
  await shot(page, '34-makeup-fallback-phone');

  const forged = m.link.replace(/\.[^.]+$/, '.AAAAAAAAAAAAAAAA');
  await page.goto(forged);
  await page.getByRole('heading', { name: 'Không mở được trang học bù' }).waitFor();
  assert.match(await page.locator('#problem-text').textContent(), /Đường dẫn học bù không đúng/);
  await checkTranslations(page, 'makeup-fallback');
  await ctx.close();
});

test('the session report: summary, table, CSV and Excel downloads, the printable A4 page', async () => {
  const { session, api } = await liveSession();
  const page = await organizerPage('desktop', 'report');
  const popups = [];
  page.context().on('page', (p) => popups.push(watch(p, 'report-popup')));
  await page.goto(`${base}/#buoi-hoc/${session.id}`);
  const block = page.locator('section.report');
  await block.getByRole('heading', { level: 2, name: 'Báo cáo' }).waitFor();
  await block.getByRole('button', { name: 'Xem báo cáo' }).click();
  const expected = (await api('GET', `/sessions/${session.id}/report`)).body;
  const summary = block.locator('.report-summary');
  await summary.waitFor();
  assert.equal(await summary.textContent(), expected.summary);
  assert.match(expected.summary, /^Toàn Tỉnh Thử Nghiệm có \d+ điểm cầu kết nối, với tổng số \d+ cán bộ/);
  const rows = block.locator('.report-table tbody tr');
  assert.equal(await rows.count(), expected.rows.length);
  assert.match(await rows.first().locator('th').textContent(), /Tỉnh Thử Nghiệm/);
  // The commune: indented under the province, its live figures, coverage in Vietnamese (44,4%).
  const commune = block.locator('.report-table tbody tr[data-code="00101"]');
  const c = expected.rows.find((r) => r.code === '00101');
  assert.equal(c.level, 1);
  assert.equal(c.by_category.reduce((a, b) => a + b, 0), 4, 'four of its members checked in');
  assert.ok(c.roster > 4 && c.coverage_live === Math.round((4 / c.roster) * 10000) / 10000, JSON.stringify(c));
  const pct = `${(c.coverage_live * 100).toLocaleString('vi-VN', { maximumFractionDigits: 1 })}%`;
  assert.match(pct, /^\d+,\d%$/, 'a decimal comma');
  const cells = await commune.locator('td').allTextContents();
  assert.equal(cells[0], `${c.points_connected}/${c.points_registered}`);
  assert.equal(cells[8], c.participants_live.toLocaleString('vi-VN'), `participants live: ${cells}`);
  assert.equal(cells[9], c.participants_total.toLocaleString('vi-VN'));
  assert.equal(cells[10], pct);
  const pad = async (code) => block.locator(`tr[data-code="${code}"] th`).evaluate((el) => parseFloat(getComputedStyle(el).paddingLeft));
  assert.ok(await pad('00101-CB01') > await pad('00101') && await pad('00101') > await pad('T01'), 'indented by level');
  assert.equal(await commune.locator('.bar-fill').first().evaluate((el) => el.style.width), `${(c.coverage_live * 100).toFixed(1)}%`);
  const drawn = await commune.locator('.bar').first().evaluate((bar) => bar.firstElementChild.getBoundingClientRect().width / bar.getBoundingClientRect().width);
  assert.ok(Math.abs(drawn - c.coverage_live) < 0.02, `the bar is drawn at ${drawn}, not ${c.coverage_live}`);
  await shot(page, '35-report');

  // Downloads follow the unit picked: CSV (UTF-8, Excel-friendly) and XLSX.
  await block.getByLabel('Đơn vị báo cáo (mã)').fill('00101');
  const csvHref = await block.getByRole('link', { name: 'Tải CSV', exact: true }).getAttribute('href');
  assert.equal(csvHref, `/api/sessions/${session.id}/report?unit=00101&format=csv`);
  const csv = await page.evaluate(async (href) => {
    const r = await fetch(href);
    return { status: r.status, type: r.headers.get('content-type'), disposition: r.headers.get('content-disposition'), text: await r.text() };
  }, csvHref);
  assert.equal(csv.status, 200);
  assert.match(csv.type, /^text\/csv/);
  assert.match(csv.disposition, /attachment; filename="bao-cao-buoi-\d+-00101\.csv"/);
  assert.match(csv.text, /Xã Hòa Bình/);
  assert.doesNotMatch(csv.text, /Phường Đức Xuân/);
  const xlsxHref = await block.getByRole('link', { name: 'Tải Excel (XLSX)', exact: true }).getAttribute('href');
  const xlsx = await page.evaluate(async (href) => {
    const r = await fetch(href);
    const b = new Uint8Array(await r.arrayBuffer());
    return { status: r.status, type: r.headers.get('content-type'), magic: String.fromCharCode(b[0], b[1]) };
  }, xlsxHref);
  assert.deepEqual(xlsx, { status: 200, type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', magic: 'PK' });
  // A click downloads the file.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    block.getByRole('link', { name: 'Tải CSV', exact: true }).click(),
  ]);
  assert.match(download.suggestedFilename(), /^bao-cao-buoi-\d+-00101\.csv$/);

  // The report of the commune only.
  await block.getByRole('button', { name: 'Xem báo cáo' }).click();
  await block.locator('.report-table tbody tr').first().locator('th', { hasText: 'Xã Hòa Bình' }).waitFor();
  assert.match(await summary.textContent(), /^Toàn Xã Hòa Bình có/);

  // The printable report opens in a new tab.
  const [print] = await Promise.all([
    page.waitForEvent('popup'),
    block.getByRole('link', { name: 'In báo cáo (A4)' }).click(),
  ]);
  await print.waitForLoadState();
  assert.equal(new URL(print.url()).pathname, `/api/sessions/${session.id}/report`);
  await print.getByText('ĐẢNG CỘNG SẢN VIỆT NAM').waitFor();
  assert.match(await print.locator('body').textContent(), /Xã Hòa Bình/);
  await print.screenshot({ path: join(ARTIFACTS, '36-report-print.png'), fullPage: true });

  // An unknown unit: the server's reason.
  await block.getByLabel('Đơn vị báo cáo (mã)').fill('KHONG-CO');
  await block.getByRole('button', { name: 'Xem báo cáo' }).click();
  await block.getByRole('alert').filter({ hasText: 'Không tìm thấy đơn vị "KHONG-CO"' }).waitFor();
  assert.ok(popups.length >= 1);
  await checkTranslations(page, 'report');
  await page.context().close();
});

test('the absentees: who has not studied, with the reason; printable make-up reminders', async () => {
  const { session, api } = await liveSession();
  const page = await organizerPage('desktop', 'absentees');
  page.context().on('page', (p) => watch(p, 'absentees-popup'));
  await page.goto(`${base}/#buoi-hoc/${session.id}`);
  const block = page.locator('section.report');
  await block.getByRole('button', { name: 'Xem danh sách chưa học' }).click();
  const list = block.locator('.absentees-slot');
  const row = (name) => list.locator('tbody tr', { hasText: name });
  await row('Phạm Thị Dung').waitFor();
  // Absent with a reason; not checked in at all; an undone check-in.
  assert.match(await row('Phạm Thị Dung').textContent(), /Đi công tác/);
  assert.match(await row('Vũ Văn Hùng').textContent(), /Chưa báo lý do/);
  assert.match(await row('Vũ Văn Hùng').textContent(), /Chưa xem/);
  await row('Lê Văn Cường').waitFor();
  // Checked in: not listed.
  for (const name of ['Nguyễn Văn An', 'Trần Thị Bình', 'Hoàng Văn Em', 'Đỗ Thị Giang']) {
    assert.equal(await row(name).count(), 0, `${name} checked in, yet listed`);
  }
  const expected = (await api('GET', `/sessions/${session.id}/absentees`)).body;
  assert.ok(expected.total >= 3, JSON.stringify(expected));
  assert.equal(await list.locator('tbody tr').count(), expected.total);
  assert.match(await list.textContent(), new RegExp(`${expected.total} người chưa học chuyên đề tại Tỉnh Thử Nghiệm\\.`));
  const makeupHref = await row('Vũ Văn Hùng').getByRole('link', { name: 'Trang học bù của Vũ Văn Hùng' }).getAttribute('href');
  assert.match(makeupHref, new RegExp(`^${base.replace(/\./g, '\\.')}/hoc-bu/${session.id}\\.10000007\\.`));
  await shot(page, '37-absentees');

  const csv = await page.evaluate(async (href) => {
    const r = await fetch(href);
    return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
  }, await block.getByRole('link', { name: 'Tải danh sách CSV' }).getAttribute('href'));
  assert.equal(csv.status, 200);
  assert.match(csv.type, /^text\/csv/);
  assert.match(csv.text, /Phạm Thị Dung.*Đi công tác/);
  assert.doesNotMatch(csv.text, /Nguyễn Văn An/);

  const [reminders] = await Promise.all([
    page.waitForEvent('popup'),
    block.getByRole('link', { name: 'In phiếu nhắc học bù' }).click(),
  ]);
  await reminders.waitForLoadState();
  assert.equal(await reminders.locator('article.reminder').count(), expected.total);
  await reminders.locator('article.reminder', { hasText: 'Vũ Văn Hùng' }).getByText('PHIẾU NHẮC HỌC BÙ CHUYÊN ĐỀ').waitFor();
  // Each reminder's QR code carries the member's own make-up link.
  const svg = await reminders.locator('article.reminder', { hasText: 'Vũ Văn Hùng' }).locator('svg').evaluate((el) => el.outerHTML);
  assert.equal(decodeSvg(svg), makeupHref);
  await reminders.screenshot({ path: join(ARTIFACTS, '38-reminders-print.png'), fullPage: true });

  // A village cell where everyone studied.
  await block.getByLabel('Đơn vị báo cáo (mã)').fill('00101-CB01');
  await block.getByRole('button', { name: 'Xem danh sách chưa học' }).click();
  await list.getByText('Tất cả thành viên trong danh sách của Chi bộ thôn Nà Làng đã học chuyên đề.').waitFor();
  await checkTranslations(page, 'absentees');
  await page.context().close();
});

test('a member\'s study history shows the sessions they attended, and how', async () => {
  const { session } = await liveSession();
  await dashSession();
  const page = await organizerPage('desktop', 'history');
  await page.goto(`${base}/#thanh-vien?q=10000001`);
  const row = page.locator('tbody tr', { hasText: 'Nguyễn Văn An' });
  await row.waitFor();
  await row.getByRole('button', { name: 'Lịch sử học tập của Nguyễn Văn An' }).click();
  const dialog = page.getByRole('dialog', { name: 'Lịch sử học tập: Nguyễn Văn An' });
  await dialog.waitFor();
  const entry = dialog.locator('tbody tr', { hasText: LIVE_THEME });
  await entry.waitFor();
  assert.match(await entry.textContent(), /Điểm danh theo danh sách/);
  assert.match(await entry.textContent(), new RegExp(CONSOLE_POINT));
  assert.match(await entry.textContent(), /\d\d\/\d\d\/\d{4} \d\d:\d\d/);
  await dialog.locator('tbody tr', { hasText: DASH_THEME }).waitFor();
  assert.match(await dialog.textContent(), /Đã học 2 chuyên đề\./);
  await shot(page, '39-member-history');
  await dialog.getByRole('link', { name: LIVE_THEME }).click();
  await page.waitForURL(new RegExp(`#buoi-hoc/${session.id}$`));
  assert.equal(await page.getByRole('dialog').count(), 0);

  // Vũ Văn Hùng studied one theme, by make-up.
  await page.goto(`${base}/#thanh-vien?q=10000007`);
  await page.locator('tbody tr', { hasText: 'Vũ Văn Hùng' }).getByRole('button', { name: /^Lịch sử học tập của/ }).click();
  const d2 = page.getByRole('dialog', { name: 'Lịch sử học tập: Vũ Văn Hùng' });
  const mk = d2.locator('tbody tr', { hasText: MAKEUP_THEME });
  if (makeup) {
    await mk.waitFor();
    assert.match(await mk.textContent(), /Học bù qua video/);
  }
  await d2.getByRole('button', { name: 'Đóng' }).click();
  await d2.waitFor({ state: 'hidden' });
  await checkTranslations(page, 'history');
  await page.context().close();
});

test('webhooks: an organizer adds one (secret shown once), sees its deliveries, deletes it', async () => {
  const d = await dashSession();
  // A receiver that checks the signature.
  const received = [];
  const { createServer } = await import('node:http');
  const { createHmac, timingSafeEqual } = await import('node:crypto');
  let secret = null;
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const sig = req.headers['x-diemcau-signature'] || '';
      const [, ts, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig) || [];
      const ok = Boolean(secret && ts && timingSafeEqual(Buffer.from(v1, 'hex'),
        createHmac('sha256', secret).update(`${ts}.${body}`).digest()));
      received.push({ ok, body: JSON.parse(body || 'null') });
      res.writeHead(ok ? 204 : 401).end();
    });
  });
  const port = await freePort();
  await new Promise((r) => receiver.listen(port, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${port}/diemcau/su-kien`;
  try {
    const page = await organizerPage('desktop', 'webhooks');
    await page.goto(`${base}/#tai-khoan`);
    const block = page.locator('section', { has: page.getByRole('heading', { level: 2, name: 'Webhook' }) });
    await block.getByText('Chưa có webhook nào.').waitFor();
    assert.match(await block.textContent(), /X-Diemcau-Signature/);
    await block.locator('summary', { hasText: 'Thêm webhook' }).click();
    await block.getByLabel('Địa chỉ nhận (URL)').fill('ftp://sai-giao-thuc');
    await block.getByRole('button', { name: 'Thêm webhook' }).click();
    await block.getByRole('alert').first().waitFor();
    await block.getByLabel('Địa chỉ nhận (URL)').fill(hookUrl);
    await block.getByLabel(/Hủy lượt điểm danh/).uncheck();
    await block.getByRole('button', { name: 'Thêm webhook' }).click();
    const panel = block.locator('.secret-panel');
    await panel.waitFor();
    secret = await panel.locator('input.secret').inputValue();
    assert.ok(secret.length >= 20, `secret: ${secret}`);
    assert.match(await panel.textContent(), /Chỉ hiển thị một lần/);
    assert.match(await panel.textContent(), /HMAC-SHA256/);
    await panel.getByRole('button', { name: 'Sao chép' }).waitFor();
    const row = block.locator('tbody tr', { hasText: hookUrl });
    await row.waitFor();
    assert.match(await row.textContent(), /checkin\.created/);
    assert.match(await row.textContent(), /session\.status_changed/);
    assert.doesNotMatch(await row.textContent(), /checkin\.annulled/);
    assert.match(await row.textContent(), /Đang hoạt động/);
    await shot(page, '40-webhooks');

    // A check-in is delivered, signed.
    await operatorCheckin(d.a.link, '10000003');
    const got = await until(async () => received.find((r) => r.body && JSON.stringify(r.body).includes('checkin.created')), 20_000, 'the webhook delivery');
    assert.equal(got.ok, true, 'the signature verifies with the secret shown once');
    await row.getByRole('button', { name: 'Lần gửi gần đây' }).click();
    const deliveries = block.locator('.deliveries');
    await deliveries.locator('tbody tr', { hasText: 'checkin.created' }).waitFor();
    await until(async () => {
      await deliveries.getByRole('button', { name: 'Làm mới' }).click();
      return /Đã nhận lúc/.test(await deliveries.locator('tbody').textContent());
    }, 10_000, 'the delivery marked delivered');
    assert.equal((await deliveries.locator('tbody tr').first().locator('td').nth(1).textContent()).trim(), '1', 'delivered at the first attempt');

    // Shown once: not after a reload.
    await page.reload();
    await block.locator('tbody tr', { hasText: hookUrl }).waitFor();
    assert.equal(await block.locator('.secret-panel').count(), 0);
    assert.ok(!(await page.locator('main').textContent()).includes(secret), 'the secret is not shown again');

    // Delete, with a confirmation.
    await block.locator('tbody tr', { hasText: hookUrl }).getByRole('button', { name: 'Xóa' }).click();
    const confirm = page.getByRole('dialog');
    assert.match(await confirm.textContent(), /Xóa webhook tới/);
    await confirm.getByRole('button', { name: 'Xóa' }).click();
    await block.getByText('Chưa có webhook nào.').waitFor();
    await block.getByRole('status').filter({ hasText: 'Đã xóa webhook.' }).waitFor();
    const { api } = d;
    assert.deepEqual((await api('GET', '/webhooks')).body, []);
    await checkTranslations(page, 'webhooks');
    await page.context().close();

    // A unit manager has no webhook block.
    const mctx = await newContext('desktop');
    const res = await mctx.request.post(`${base}/api/auth/login`, { data: { username: MANAGER.username, password: MANAGER.password } });
    assert.equal(res.status(), 200);
    const m = await newPage(mctx, 'webhooks-manager');
    await m.goto(`${base}/#tai-khoan`);
    await m.getByRole('heading', { level: 2, name: 'Mã truy cập API' }).waitFor();
    assert.equal(await m.getByRole('heading', { level: 2, name: 'Webhook' }).count(), 0);
    await mctx.close();
  } finally {
    receiver.close();
  }
});

test('signing in returns to the page that sent you there, and only to this site', async () => {
  const d = await dashSession();
  const ctx = await newContext('desktop');
  const page = await newPage(ctx, 'login-next');
  await page.goto(`${base}/truc-tiep/${d.id}`);
  await page.waitForURL(`${base}/dang-nhap?next=${encodeURIComponent(`/truc-tiep/${d.id}`)}`);
  await page.getByLabel('Tên đăng nhập').fill(USERNAME);
  await page.getByLabel('Mật khẩu').fill(PASSWORD);
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
  await page.waitForURL(`${base}/truc-tiep/${d.id}`);
  await page.locator('#theme', { hasText: DASH_THEME }).waitFor();

  // Only paths of this site are followed.
  const checked = await page.evaluate(async () => {
    const { safeNext } = await import('/assets/api.js');
    return ['/truc-tiep/3', '/#buoi-hoc/2?x=1', '//evil.example/x', '/\\evil.example', '/\t/evil.example',
      'https://evil.example/', 'javascript:alert(1)', '/dang-nhap?next=/', '', null].map(safeNext);
  });
  assert.deepEqual(checked, ['/truc-tiep/3', '/#buoi-hoc/2?x=1', '/', '/', '/', '/', '/', '/', '/', '/']);
  await page.goto(`${base}/dang-nhap?next=${encodeURIComponent('//evil.example/x')}`);
  await page.getByLabel('Tên đăng nhập').fill(USERNAME);
  await page.getByLabel('Mật khẩu').fill(PASSWORD);
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
  await page.waitForURL(`${base}/`);
  await page.locator('body[data-ready="true"]').waitFor();
  await ctx.close();
});

test('one phone checking in four members, and a member far from their commune, show under "Cần xem xét"; an organizer marks one reviewed', async () => {
  const { api } = await liveSession(); // the members are imported there
  const now = Date.now();
  const iso = (ms) => new Date(ms).toISOString();
  const s = await api('POST', '/sessions', {
    theme: 'Buổi học kiểm tra điểm danh hộ',
    host_unit_code: 'T01',
    starts_at: iso(now + 10 * 60_000),
    ends_at: iso(now + 3 * 3600_000),
    checkin_opens_at: iso(now - 30 * 60_000),
    checkin_closes_at: iso(now + 3 * 3600_000),
  });
  assert.equal(s.status, 201, JSON.stringify(s.body));
  assert.equal((await api('POST', `/sessions/${s.body.id}/status`, { status: 'open' })).status, 200);
  const point = async (unit_code, name) => {
    const r = await api('POST', `/sessions/${s.body.id}/points`, { unit_code, name });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.operator_link;
  };
  const commune = await point('00101', 'Hội trường xã Hòa Bình (xem xét)');
  const ward = await point('00102', 'Hội trường phường Đức Xuân (xem xét)');

  // One phone, the check-in page, four members one after another.
  const qr = await operatorGet(commune, '/operator/qr');
  const ctx = await newContext('phone');
  const phone = await newPage(ctx, 'flags-phone');
  const sent = [];
  phone.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/api/checkin')) sent.push(r.postDataJSON()); });
  await phone.goto(qr.link);
  for (const code of ['10000001', '10000002', '10000003', '10000004']) {
    if (await phone.getByRole('button', { name: 'Điểm danh cho mã khác' }).isVisible()) {
      await phone.getByRole('button', { name: 'Điểm danh cho mã khác' }).tap();
    }
    await phone.getByLabel('Mã thành viên').fill(code);
    await phone.getByRole('button', { name: 'Điểm danh', exact: true }).tap();
    await phone.getByText('✓ Đã điểm danh').waitFor();
  }
  assert.equal(sent.length, 4);
  assert.match(sent[0].device, /^[A-Za-z0-9_-]{8,64}$/, 'the page sends a device id');
  assert.ok(sent.every((b) => b.device === sent[0].device), 'the same device id every time');
  assert.equal(await phone.evaluate(() => localStorage.getItem('diemcau.device_id')), sent[0].device);
  await ctx.close();
  // A member of Xã Hòa Bình ticked at the ward's point.
  await operatorCheckin(ward, '10000005');

  const page = await organizerPage('desktop', 'dashboard-flags');
  await page.goto(`${base}/truc-tiep/${s.body.id}`);
  await page.locator('body[data-ready="true"]').waitFor();
  const section = page.locator('#flags');
  await section.getByRole('heading', { name: /Cần xem xét/ }).waitFor();
  assert.equal((await page.locator('#flags-count').textContent()).trim(), '2');
  assert.equal(await section.locator('[data-count="shared_device"]').textContent(), 'Một máy cho nhiều người (≥ 4): 1');
  assert.equal(await section.locator('[data-count="other_commune"]').textContent(), 'Điểm danh ở xã khác: 1');
  const shared = section.locator('li.review-item[data-kind="shared_device"]');
  assert.match(await shared.locator('.flag-title').textContent(), /Một máy điểm danh cho 4 người tại Hội trường xã Hòa Bình \(xem xét\)/);
  assert.equal(await shared.locator('.flag-member').count(), 4);
  await shared.getByText('Phạm Thị Dung').waitFor();
  const far = section.locator('li.review-item[data-kind="other_commune"]');
  assert.match(await far.locator('.flag-title').textContent(), /Hoàng Văn Em \(Xã Hòa Bình\) điểm danh tại Hội trường phường Đức Xuân \(xem xét\) thuộc xã khác \(Phường Đức Xuân\)/);

  await shared.getByLabel('Ghi chú khi xem xét').fill('Con cháu điểm danh giúp ông bà, đã gọi xác nhận');
  await shared.getByRole('button', { name: 'Đánh dấu đã xem xét' }).click();
  await shared.locator('.flag-done', { hasText: 'Con cháu điểm danh giúp ông bà, đã gọi xác nhận' }).waitFor();
  assert.equal(await shared.getByRole('button', { name: 'Đánh dấu đã xem xét' }).count(), 0);
  assert.equal(await far.getByRole('button', { name: 'Đánh dấu đã xem xét' }).count(), 1);
  await shot(page, '27-dashboard-flags');

  await page.getByRole('button', { name: 'EN', exact: true }).click();
  await section.getByRole('heading', { name: /To review/ }).waitFor();
  assert.match(await far.locator('.flag-title').textContent(), /in another commune/);
  await page.getByRole('button', { name: 'VI', exact: true }).click();
  await checkTranslations(page, 'dashboard-flags');

  // Not on the TV overlay.
  await page.goto(`${base}/tv/${s.body.id}/overlay`);
  await page.waitForLoadState('networkidle');
  assert.equal(await page.getByText('Cần xem xét').count(), 0);
  await page.context().close();
});

test('no console errors, page errors or CSP violations on any page', () => {
  assert.deepEqual(faults, []);
});
