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
  assert.match(await page.locator('#checkin').textContent(), /Điểm danh/);
  assert.equal(await page.locator('#checkin button').count(), 0, 'no check-in buttons yet');
  await shot(page, '06-console-phone');

  // A refresh still works: the secret was kept on the device.
  await page.reload();
  await page.locator('#pt-name', { hasText: POINT_NAME }).waitFor();

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

  await page.reload();
  await page.getByRole('heading', { name: 'Đường dẫn không còn hiệu lực' }).waitFor();
  assert.match(await page.locator('main').textContent(), /liên hệ ban tổ chức/);
  await shot(page, '07-console-link-rotated');

  await page.goto(newLink);
  await page.locator('#pt-name', { hasText: POINT_NAME }).waitFor();
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
  await m.waitForURL(`${base}/dang-nhap`);
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
  await page.waitForURL(`${base}/dang-nhap`);
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

test('no console errors, page errors or CSP violations on any page', () => {
  assert.deepEqual(faults, []);
});
