// /api/docs: a readable page made from /api/openapi.json — operations grouped
// by tag, with parameters, request bodies and responses, and every schema's
// fields ($ref resolved to components/schemas).

import { initI18n, t, has } from './i18n.js';
import { h, append, clear } from './dom.js';
import { notice } from './ui.js';

initI18n();

const main = document.getElementById('main');
const toc = document.getElementById('toc');
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
let doc = null;

/** Text with `code` spans and paragraphs (from blank lines); all as text nodes. */
function prose(text, cls) {
  if (!text) return null;
  return text.split(/\n\s*\n/).map((para) => h('p', { class: cls },
    para.split('`').map((part, i) => (i % 2 ? h('code', { text: part }) : part.replace(/\n/g, ' ')))));
}

function refName(ref) {
  return ref.split('/').pop();
}

function resolve(schema) {
  if (schema && schema.$ref) return doc.components.schemas[refName(schema.$ref)] || {};
  return schema || {};
}

function schemaLink(name) {
  return h('a', { href: `#schema-${name}`, class: 'schema-link', text: name });
}

/** A short description of a schema's type, with links to named schemas. */
function typeOf(schema) {
  if (!schema) return 'any';
  if (schema.$ref) return schemaLink(refName(schema.$ref));
  const parts = [];
  const alts = schema.oneOf || schema.anyOf;
  if (alts) {
    alts.forEach((s, i) => { if (i) parts.push(' | '); parts.push(typeOf(s)); });
    return h('span', null, parts);
  }
  if (schema.allOf) {
    schema.allOf.forEach((s, i) => { if (i) parts.push(' & '); parts.push(typeOf(s)); });
    return h('span', null, parts);
  }
  const types = Array.isArray(schema.type) ? schema.type : [schema.type || (schema.properties ? 'object' : 'any')];
  types.forEach((ty, i) => {
    if (i) parts.push(' | ');
    if (ty === 'array') {
      parts.push('array<', typeOf(schema.items), '>');
    } else {
      parts.push(ty + (schema.format && ty !== 'null' ? ` (${schema.format})` : ''));
    }
  });
  return h('span', null, parts);
}

/** Properties of an object schema, following allOf and $ref. */
function collectFields(schema, seen = new Set()) {
  const out = { props: [], required: new Set() };
  const walk = (s) => {
    if (!s) return;
    if (s.$ref) {
      const name = refName(s.$ref);
      if (seen.has(name)) return;
      seen.add(name);
      walk(resolve(s));
      return;
    }
    if (s.allOf) s.allOf.forEach(walk);
    for (const r of s.required || []) out.required.add(r);
    for (const [name, prop] of Object.entries(s.properties || {})) out.props.push([name, prop]);
  };
  walk(schema);
  return out;
}

function enumValues(schema) {
  const s = resolve(schema);
  return Array.isArray(s.enum) ? s.enum : null;
}

function describeField(prop) {
  const bits = [];
  const desc = prop.description || (prop.$ref ? resolve(prop).description : null);
  if (desc) bits.push(h('span', null, prose(desc, 'inline-p')));
  const values = enumValues(prop) || (prop.oneOf && prop.oneOf.map(enumValues).find(Boolean));
  if (values) bits.push(h('span', { class: 'sub', i18n: 'docs.values', vars: { values: values.join(', ') } }));
  if (prop.example !== undefined) bits.push(h('span', { class: 'sub' }, 'e.g. ', h('code', { text: JSON.stringify(prop.example) })));
  return bits;
}

/** A schema: its fields table (objects), values (enums), or just its type. */
function schemaBlock(schema, { named = true } = {}) {
  const s = resolve(schema);
  const wrapper = h('div', { class: 'schema' });
  if (named && schema && schema.$ref) wrapper.append(h('p', { class: 'schema-name' }, schemaLink(refName(schema.$ref))));
  if (s.type === 'array' || (Array.isArray(s.type) && s.type.includes('array'))) {
    wrapper.append(h('p', null, typeOf(s)));
    if (s.items && s.items.$ref) wrapper.append(schemaBlock(s.items));
    return wrapper;
  }
  const { props, required } = collectFields(schema);
  if (props.length) {
    wrapper.append(h('div', { class: 'table-wrap' }, h('table', { class: 'table fields' },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col', i18n: 'docs.field' }),
        h('th', { scope: 'col', i18n: 'docs.type' }),
        h('th', { scope: 'col', i18n: 'docs.description' }))),
      h('tbody', null, props.map(([name, prop]) => h('tr', null,
        h('td', null, h('code', { text: name }), required.has(name) ? h('span', { class: 'req', title: t('docs.required'), text: ' *' }) : null),
        h('td', { class: 'type' }, typeOf(prop)),
        h('td', null, describeField(prop))))))));
  } else if (s.enum) {
    wrapper.append(h('p', null, typeOf(s), ' — ', h('span', { i18n: 'docs.values', vars: { values: s.enum.join(', ') } })));
  } else {
    wrapper.append(h('p', null, typeOf(s)));
  }
  if (!schema.$ref && s.description) wrapper.append(...prose(s.description, 'hint'));
  return wrapper;
}

function contentBlocks(content) {
  return Object.entries(content || {}).map(([type, media]) => h('div', { class: 'media' },
    h('p', { class: 'media-type' }, h('code', { text: type })),
    media.schema ? schemaBlock(media.schema) : null));
}

function operation(path, method, op, base) {
  const id = `op-${op.operationId || `${method}-${path}`}`;
  const params = op.parameters || [];
  const article = h('article', { class: 'op', id, 'aria-labelledby': `${id}-h` },
    h('h3', { id: `${id}-h`, class: 'op-title' },
      h('span', { class: `method method-${method}`, text: method.toUpperCase() }),
      ' ',
      h('code', { class: 'op-path', text: base + path })),
    prose(op.summary, 'op-summary'),
    prose(op.description));
  if (op.security) {
    const names = op.security.flatMap((s) => Object.keys(s));
    article.append(h('p', { class: 'hint' }, h('span', { i18n: 'docs.auth' }), ': ', names.join(', ')));
  }
  if (params.length) {
    article.append(h('h4', { i18n: 'docs.parameters' }),
      h('div', { class: 'table-wrap' }, h('table', { class: 'table fields' },
        h('thead', null, h('tr', null,
          h('th', { scope: 'col', i18n: 'docs.name' }),
          h('th', { scope: 'col', i18n: 'docs.in' }),
          h('th', { scope: 'col', i18n: 'docs.type' }),
          h('th', { scope: 'col', i18n: 'docs.description' }))),
        h('tbody', null, params.map((p) => h('tr', null,
          h('td', null, h('code', { text: p.name }), p.required ? h('span', { class: 'req', title: t('docs.required'), text: ' *' }) : null),
          h('td', { text: p.in }),
          h('td', { class: 'type' }, typeOf(p.schema)),
          h('td', null, prose(p.description, 'inline-p'))))))));
  }
  if (op.requestBody) {
    article.append(h('h4', { i18n: 'docs.request_body' }), ...contentBlocks(op.requestBody.content));
  }
  article.append(h('h4', { i18n: 'docs.responses' }));
  for (const [status, res] of Object.entries(op.responses || {})) {
    const desc = res.description
      ? h('span', { text: res.description })
      : (has(`http.${status}`) ? h('span', { i18n: `http.${status}` }) : null);
    article.append(h('div', { class: 'response' },
      h('p', { class: 'response-head' },
        h('span', { class: `status status-${status[0]}xx`, text: status }), ' ', desc),
      res.content ? contentBlocks(res.content) : h('p', { class: 'hint', i18n: 'docs.no_body' })));
  }
  return article;
}

function render() {
  clear(main);
  clear(toc);
  const base = (doc.servers && doc.servers[0] && doc.servers[0].url) || '';
  append(main, [
    h('h1', null, doc.info.title, ' ', h('span', { class: 'version', text: doc.info.version })),
    prose(doc.info.description),
    h('p', null, h('a', { href: '/api/openapi.json', i18n: 'docs.download' }))]);

  const tags = (doc.tags || []).map((tg) => ({ ...tg, ops: [] }));
  const byName = new Map(tags.map((tg) => [tg.name, tg]));
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const tagName = (op.tags && op.tags[0]) || '';
      if (!byName.has(tagName)) {
        const tg = { name: tagName || t('docs.other'), ops: [] };
        tags.push(tg);
        byName.set(tagName, tg);
      }
      byName.get(tagName).ops.push({ path, method, op });
    }
  }

  const tocList = h('ol', { class: 'toc-list' });
  for (const tg of tags) {
    if (!tg.ops.length) continue;
    const tagId = `tag-${tg.name}`;
    tocList.append(h('li', null,
      h('a', { href: `#${tagId}`, class: 'toc-tag', text: tg.name }),
      h('ol', null, tg.ops.map(({ path, method, op }) => h('li', null,
        h('a', { href: `#op-${op.operationId}` },
          h('span', { class: `method method-${method}`, text: method.toUpperCase() }), ' ', h('span', { text: path })))))));
    main.append(h('section', { class: 'tag', id: tagId, 'aria-labelledby': `${tagId}-h` },
      h('h2', { id: `${tagId}-h` }, tg.name, tg.description ? h('span', { class: 'tag-desc', text: ` — ${tg.description}` }) : null),
      tg.ops.map(({ path, method, op }) => operation(path, method, op, base))));
  }
  const schemas = Object.entries((doc.components && doc.components.schemas) || {});
  if (schemas.length) {
    tocList.append(h('li', null, h('a', { href: '#schemas', class: 'toc-tag', i18n: 'docs.schemas' })));
    main.append(h('section', { class: 'tag', id: 'schemas', 'aria-labelledby': 'schemas-h' },
      h('h2', { id: 'schemas-h', i18n: 'docs.schemas' }),
      schemas.map(([name, s]) => h('article', { class: 'op schema-def', id: `schema-${name}` },
        h('h3', null, h('code', { text: name })),
        s.description ? prose(s.description) : null,
        schemaBlock({ $ref: `#/components/schemas/${name}` }, { named: false })))));
  }
  toc.append(h('h2', { class: 'toc-title', i18n: 'docs.contents' }), tocList);
  // Jump to the anchor asked for in the address, now that it exists.
  if (location.hash.length > 1) {
    const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (target) target.scrollIntoView();
  }
  document.body.setAttribute('data-ready', 'true');
}

async function start() {
  try {
    const res = await fetch('/api/openapi.json', { headers: { Accept: 'application/json' } });
    if (!res.ok) throw new Error(t('err.unexpected', { status: res.status }));
    doc = await res.json();
    render();
  } catch (err) {
    clear(main);
    main.append(notice('error', err.message || String(err)));
  }
}

start();
