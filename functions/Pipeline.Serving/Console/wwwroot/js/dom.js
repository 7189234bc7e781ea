// Small DOM helpers: every text goes through textContent, never innerHTML, so data from storage cannot inject markup.

/** h('div.card', {onclick}, child, ...) — tag with optional .classes; attributes; children (strings, nodes, arrays, null). */
export function h(spec, attributes, ...children) {
  const [tag, ...classes] = spec.split('.');
  const element = document.createElement(tag || 'div');
  if (classes.length) element.className = classes.join(' ');
  if (attributes && (typeof attributes !== 'object' || attributes instanceof Node || Array.isArray(attributes))) {
    children.unshift(attributes);
    attributes = null;
  }
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(element.dataset, value);
    // Styles through the CSSOM: the page's Content-Security-Policy refuses style="" attributes.
    else if (name === 'style') Object.assign(element.style, value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : String(child));
  }
}

const svgNamespace = 'http://www.w3.org/2000/svg';

/** An SVG element with attributes. */
export function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(svgNamespace, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined) element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

export function number(value, digits = 3) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return value.toLocaleString('en-US');
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e6)) return value.toExponential(2);
  return value.toLocaleString('en-US', { maximumFractionDigits: digits });
}

export function percent(share, digits = 1) {
  return share === null || share === undefined ? '–' : `${(share * 100).toFixed(digits)}%`;
}

export function bytes(count) {
  if (count === null || count === undefined) return '–';
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 90) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 90) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** "3 min ago" with the exact time as a tooltip. */
export function when(iso) {
  if (!iso) return h('span.muted', '–');
  const date = new Date(iso);
  if (Number.isNaN(date.getTime()) || date.getFullYear() < 2000) return h('span.muted', '–');
  const seconds = (Date.now() - date.getTime()) / 1000;
  let text;
  if (seconds < 45) text = 'just now';
  else if (seconds < 3600) text = `${Math.round(seconds / 60)} min ago`;
  else if (seconds < 86400) text = `${Math.round(seconds / 3600)} h ago`;
  else text = date.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric' });
  return h('time', { datetime: date.toISOString(), title: date.toLocaleString('en-GB') }, text);
}

/** A version hash shortened for tables, full in the tooltip. */
export function shortVersion(version) {
  if (!version) return h('span.muted', '–');
  return h('code.version', { title: version }, version.length > 14 ? `${version.slice(0, 12)}…` : version);
}

const tones = {
  succeeded: 'good', accepted: 'good', healthy: 'good', serving: 'good', current: 'good', promoted: 'good', served: 'good',
  running: 'info', retrying: 'warn', interrupted: 'warn', pending: 'info', degraded: 'warn',
  failed: 'bad', rejected: 'bad',
  ok: 'good', warning: 'warn', drifted: 'bad', 'insufficient-data': 'neutral',
  scored: 'good', unreadable: 'bad',
  requested: 'info', 'already-requested': 'info', 'no-new-data': 'warn', off: 'neutral', 'not-drifted': 'good', unavailable: 'warn',
};

export function badge(text, tone) {
  return h(`span.badge.${tone ?? tones[String(text).toLowerCase()] ?? 'neutral'}`, text);
}

export function card(title, ...content) {
  return h('section.card', title ? h('h2.card-title', title) : null, ...content);
}

/** A label/value tile for key numbers. */
export function stat(label, value, hint) {
  return h('div.stat', h('div.stat-value', value), h('div.stat-label', label), hint ? h('div.stat-hint', hint) : null);
}

/** A table from column definitions [{ label, value: row => node|string, class }]; rows may carry onclick via rowLink. */
export function table(columns, rows, { rowLink, empty = 'Nothing here yet.', caption } = {}) {
  if (!rows.length) return h('p.empty', empty);
  return h('div.table-wrap',
    h('table',
      caption ? h('caption', caption) : null,
      h('thead', h('tr', columns.map(c => h(`th${c.class ? '.' + c.class : ''}`, { scope: 'col' }, c.label)))),
      h('tbody', rows.map(row => {
        const link = rowLink?.(row);
        const tr = h(`tr${link ? '.link' : ''}`, columns.map((c, i) => {
          const content = c.value(row);
          return h(`td${c.class ? '.' + c.class : ''}`, { 'data-label': c.label }, i === 0 && link ? h('a', { href: link }, content) : content);
        }));
        if (link) tr.addEventListener('click', event => { if (!event.target.closest('a,button')) location.hash = link; });
        return tr;
      }))));
}

export function breadcrumbs(...items) {
  items = items.filter(Boolean);
  return h('nav.crumbs', { 'aria-label': 'Breadcrumb' },
    items.map((item, i) => [i ? h('span.sep', '/') : null, item.href ? h('a', { href: item.href }, item.label) : h('span', item.label)]));
}

export function pageHeader(title, subtitle, ...actions) {
  return h('div.page-header', h('div', h('h1', title), subtitle ? h('p.subtitle', subtitle) : null), actions.length ? h('div.actions', actions) : null);
}

export function notice(text, tone = 'info') {
  return h(`div.notice.${tone}`, { role: tone === 'error' ? 'alert' : 'status' }, text);
}

/** A horizontal bar for a share in [0, 1]. */
export function meter(share, tone) {
  const width = Math.max(0, Math.min(1, share ?? 0)) * 100;
  return h('span.meter', { title: percent(share) }, h(`span.meter-fill${tone ? '.' + tone : ''}`, { style: { width: `${width.toFixed(1)}%` } }));
}
