// A small QR code reader for the tests: reads the clean SVGs the server draws
// (in module units: a viewBox of the code plus its quiet zone, and one path
// of horizontal runs of dark modules, `M x y h n m gap 0 h n ...`), so a test can get the
// text of a printed member card from the card sheet. No error correction:
// the images are exact. Layout, masks and block tables follow ISO/IEC 18004
// (as in Nayuki's qrcodegen, which encodes the same way).

/** The module grid of a server-drawn QR SVG: grid[row][col] = dark. */
export function svgGrid(svg) {
  const view = /viewBox="0 0 (\d+) (\d+)"/.exec(svg);
  if (!view) throw new Error('not an SVG with a viewBox');
  const total = Number(view[1]);
  const path = /<path stroke="#000"[^>]* d="([^"]*)"/.exec(svg);
  if (!path) throw new Error('no modules in the SVG');
  // Follow the pen: `M x y` starts a row, `m gap 0` skips light modules,
  // `h n` draws n dark ones.
  const runs = [];
  let x = 0;
  let y = 0;
  for (const [, command, a, b] of path[1].matchAll(/([Mmh])(\d+)(?: (\d+))?/g)) {
    if (command === 'M') [x, y] = [Number(a), Number(b)];
    else if (command === 'm') x += Number(a);
    else {
      runs.push([x, y, Number(a)]);
      x += Number(a);
    }
  }
  if (!runs.length) throw new Error('no modules in the SVG');
  // The top-left finder pattern starts where the quiet zone ends.
  const quiet = Math.min(...runs.map((r) => r[0]));
  const size = total - 2 * quiet;
  const grid = Array.from({ length: size }, () => new Array(size).fill(false));
  for (const [rx, ry, n] of runs) {
    for (let i = 0; i < n; i++) grid[ry - quiet][rx - quiet + i] = true;
  }
  return grid;
}

const ECC_M = [-1, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28];
const BLOCKS_M = [-1, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49];
const ALNUM = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';

function formatBits(ecl, mask) {
  const data = (ecl << 3) | mask;
  let rem = data;
  for (let i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >>> 9) * 0x537);
  return ((data << 10) | rem) ^ 0x5412;
}

function alignmentPositions(ver, size) {
  if (ver === 1) return [];
  const n = Math.floor(ver / 7) + 2;
  const step = ver === 32 ? 26 : Math.ceil((ver * 4 + 4) / (n * 2 - 2)) * 2;
  const out = [6];
  for (let pos = size - 7; out.length < n; pos -= step) out.splice(1, 0, pos);
  return out;
}

function rawDataModules(ver) {
  let r = (16 * ver + 128) * ver + 64;
  if (ver >= 2) {
    const n = Math.floor(ver / 7) + 2;
    r -= (25 * n - 10) * n - 55;
    if (ver >= 7) r -= 36;
  }
  return r;
}

const MASKS = [
  (x, y) => (x + y) % 2 === 0,
  (x, y) => y % 2 === 0,
  (x) => x % 3 === 0,
  (x, y) => (x + y) % 3 === 0,
  (x, y) => (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0,
  (x, y) => ((x * y) % 2) + ((x * y) % 3) === 0,
  (x, y) => (((x * y) % 2) + ((x * y) % 3)) % 2 === 0,
  (x, y) => (((x + y) % 2) + ((x * y) % 3)) % 2 === 0,
];

/** The text of a QR code (error correction level M) from its module grid. */
export function decodeGrid(grid) {
  const size = grid.length;
  const ver = (size - 17) / 4;
  if (!Number.isInteger(ver) || ver < 1 || ver > 40) throw new Error(`bad QR size ${size}`);
  const at = (x, y) => grid[y][x];

  // Format: the first copy, around the top-left finder.
  let read = 0;
  const fpos = [];
  for (let i = 0; i <= 5; i++) fpos.push([8, i]);
  fpos.push([8, 7], [8, 8], [7, 8]);
  for (let i = 9; i < 15; i++) fpos.push([14 - i, 8]);
  fpos.forEach(([x, y], i) => { if (at(x, y)) read |= 1 << i; });
  let best = null;
  for (let ecl = 0; ecl < 4; ecl++) {
    for (let mask = 0; mask < 8; mask++) {
      let diff = formatBits(ecl, mask) ^ read;
      let d = 0;
      while (diff) { d += diff & 1; diff >>>= 1; }
      if (!best || d < best.d) best = { d, ecl, mask };
    }
  }
  if (best.ecl !== 0) throw new Error('only error correction level M is read here');

  // Which modules are function patterns.
  const fn = Array.from({ length: size }, () => new Array(size).fill(false));
  const mark = (x, y) => { if (x >= 0 && x < size && y >= 0 && y < size) fn[y][x] = true; };
  for (let i = 0; i < size; i++) { mark(6, i); mark(i, 6); }
  for (const [cx, cy] of [[3, 3], [size - 4, 3], [3, size - 4]]) {
    for (let dy = -4; dy <= 4; dy++) for (let dx = -4; dx <= 4; dx++) mark(cx + dx, cy + dy);
  }
  const al = alignmentPositions(ver, size);
  const last = al.length - 1;
  for (let i = 0; i < al.length; i++) {
    for (let j = 0; j < al.length; j++) {
      if ((i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0)) continue;
      for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) mark(al[i] + dx, al[j] + dy);
    }
  }
  for (const [x, y] of fpos) mark(x, y);
  for (let i = 0; i < 8; i++) mark(size - 1 - i, 8);
  for (let i = 8; i < 15; i++) mark(8, size - 15 + i);
  mark(8, size - 8);
  if (ver >= 7) {
    for (let i = 0; i < 18; i++) {
      const a = size - 11 + (i % 3);
      const b = Math.floor(i / 3);
      mark(a, b);
      mark(b, a);
    }
  }

  // The codewords, in the zigzag order, unmasked.
  const raw = Math.floor(rawDataModules(ver) / 8);
  const bytes = new Uint8Array(raw);
  const maskFn = MASKS[best.mask];
  let bit = 0;
  for (let right = size - 1; right >= 1; right -= 2) {
    if (right === 6) right = 5;
    for (let vert = 0; vert < size; vert++) {
      for (let j = 0; j < 2; j++) {
        const x = right - j;
        const upward = ((right + 1) & 2) === 0;
        const y = upward ? size - 1 - vert : vert;
        if (fn[y][x] || bit >= raw * 8) continue;
        if (at(x, y) !== maskFn(x, y)) bytes[bit >>> 3] |= 1 << (7 - (bit & 7));
        bit += 1;
      }
    }
  }

  // De-interleave the blocks; keep the data codewords.
  const numBlocks = BLOCKS_M[ver];
  const ecc = ECC_M[ver];
  const numShort = numBlocks - (raw % numBlocks);
  const shortLen = Math.floor(raw / numBlocks);
  const blocks = Array.from({ length: numBlocks }, () => []);
  let k = 0;
  for (let i = 0; i < shortLen + 1; i++) {
    for (let j = 0; j < numBlocks; j++) {
      if (i === shortLen - ecc && j < numShort) { blocks[j].push(null); continue; }
      if (i === shortLen && j < numShort) continue;
      blocks[j].push(bytes[k++]);
    }
  }
  const data = [];
  blocks.forEach((b, j) => {
    const len = shortLen - ecc + (j < numShort ? 0 : 1);
    data.push(...b.slice(0, len));
  });

  // Segments: numeric, alphanumeric and byte modes.
  let pos = 0;
  const take = (n) => {
    let v = 0;
    for (let i = 0; i < n; i++, pos++) v = (v << 1) | ((data[pos >>> 3] >>> (7 - (pos & 7))) & 1);
    return v;
  };
  const band = ver <= 9 ? 0 : ver <= 26 ? 1 : 2;
  const out = [];
  while (pos + 4 <= data.length * 8) {
    const mode = take(4);
    if (mode === 0) break;
    if (mode === 1) {
      let n = take([10, 12, 14][band]);
      for (; n >= 3; n -= 3) out.push(...new TextEncoder().encode(String(take(10)).padStart(3, '0')));
      if (n === 2) out.push(...new TextEncoder().encode(String(take(7)).padStart(2, '0')));
      if (n === 1) out.push(...new TextEncoder().encode(String(take(4))));
    } else if (mode === 2) {
      let n = take([9, 11, 13][band]);
      for (; n >= 2; n -= 2) {
        const v = take(11);
        out.push(ALNUM.charCodeAt(Math.floor(v / 45)), ALNUM.charCodeAt(v % 45));
      }
      if (n === 1) out.push(ALNUM.charCodeAt(take(6)));
    } else if (mode === 4) {
      const n = take([8, 16, 16][band]);
      for (let i = 0; i < n; i++) out.push(take(8));
    } else if (mode === 7) {
      take(8); // ECI designator (UTF-8 assumed)
    } else {
      throw new Error(`QR mode ${mode} is not read here`);
    }
  }
  return new TextDecoder().decode(new Uint8Array(out));
}

export function decodeSvg(svg) {
  return decodeGrid(svgGrid(svg));
}
