// The console's shell: hash routes, the key dialog, the health pill. Each page module renders into <main>.
import { h, notice, badge } from './dom.js';
import { api, keys, onUnauthorized, ApiError } from './api.js';
import * as datasets from './pages/datasets.js';
import * as runs from './pages/runs.js';
import * as models from './pages/models.js';
import * as scoring from './pages/scoring.js';

const routes = [
  [/^#\/datasets$/, datasets.list, 'datasets'],
  [/^#\/datasets\/([^/]+)$/, datasets.detail, 'datasets'],
  [/^#\/datasets\/([^/]+)\/versions\/([^/]+)$/, datasets.version, 'datasets'],
  [/^#\/datasets\/([^/]+)\/rejections\/([^/]+)$/, datasets.rejection, 'datasets'],
  [/^#\/runs$/, runs.list, 'runs'],
  [/^#\/runs\/([^/]+)$/, runs.detail, 'runs'],
  [/^#\/scoring$/, scoring.list, 'scoring'],
  [/^#\/scoring\/([^/]+)$/, scoring.detail, 'scoring'],
  [/^#\/models$/, models.list, 'models'],
  [/^#\/models\/([^/]+)$/, models.detail, 'models'],
  [/^#\/models\/([^/]+)\/versions\/([^/]+)$/, models.detail, 'models'],
];

const main = document.getElementById('app');
let current = null;

/** What a page gets: where to render, a signal aborted when the user navigates away, and a poll helper bound to it. */
function context() {
  const controller = new AbortController();
  const timers = [];
  return {
    signal: controller.signal,
    /** Calls fn every ms milliseconds until it returns false or the page is left. */
    poll(fn, ms) {
      const tick = async () => {
        if (controller.signal.aborted) return;
        let again = true;
        try { again = await fn(); } catch (error) { if (error.name !== 'AbortError') console.warn('poll failed', error.message); }
        if (again !== false && !controller.signal.aborted) timers.push(setTimeout(tick, ms));
      };
      timers.push(setTimeout(tick, ms));
    },
    leave() { controller.abort(); timers.forEach(clearTimeout); },
  };
}

async function render() {
  const hash = location.hash || '#/models';
  const match = routes.map(([pattern, page, section]) => ({ m: hash.match(pattern), page, section })).find(r => r.m);
  current?.leave();
  current = context();
  document.querySelectorAll('.nav a').forEach(a => a.classList.toggle('active', a.dataset.section === match?.section));
  if (!match) {
    main.replaceChildren(notice(`No page at ${hash}.`, 'error'), h('p', h('a', { href: '#/models' }, 'Go to models')));
    return;
  }

  const page = current;
  main.replaceChildren(h('div.loading', { role: 'status' }, h('span.spinner'), 'Loading…'));
  try {
    const content = await match.page(page, ...match.m.slice(1).map(decodeURIComponent));
    if (!page.signal.aborted) main.replaceChildren(content);
  } catch (error) {
    if (error.name === 'AbortError' || page.signal.aborted) return;
    main.replaceChildren(errorView(error));
  }
  main.focus({ preventScroll: true });
}

export function errorView(error) {
  const title = error instanceof ApiError ? error.title : 'Something went wrong';
  const detail = error instanceof ApiError ? error.detail : error.message;
  return h('div.error-view',
    h('h1', title),
    detail ? h('p', detail) : null,
    error.status === 401 || error.status === 403
      ? h('button.button.primary', { type: 'button', onclick: () => askForKey() }, 'Enter the function key')
      : h('button.button', { type: 'button', onclick: () => render() }, 'Try again'));
}

const dialog = document.getElementById('key-dialog');

function askForKey(reason) {
  const reasonElement = document.getElementById('key-reason');
  reasonElement.hidden = !reason;
  reasonElement.textContent = reason ?? '';
  document.getElementById('key-input').value = keys.function;
  document.getElementById('admin-key-input').value = keys.admin;
  if (!dialog.open) dialog.showModal();
}

document.getElementById('key-form').addEventListener('submit', () => {
  keys.save(document.getElementById('key-input').value.trim(), document.getElementById('admin-key-input').value.trim());
  render();
});
document.getElementById('key-forget').addEventListener('click', () => {
  keys.forget();
  dialog.close();
  render();
});
document.getElementById('key-button').addEventListener('click', () => askForKey());

onUnauthorized((error, admin) => {
  if (!admin) askForKey(keys.function ? `The key was refused: ${error.detail || error.title}` : 'Enter the function key to see this app\'s data.');
});

async function refreshHealth() {
  const pill = document.getElementById('health');
  try {
    const { status } = await api.health();
    pill.replaceWith(Object.assign(badge(status), { id: 'health', title: 'GET /api/health' }));
  } catch {
    pill.replaceWith(Object.assign(badge('unreachable', 'bad'), { id: 'health', title: 'GET /api/health failed' }));
  }
}

window.addEventListener('hashchange', render);
main.tabIndex = -1;
render();
refreshHealth();
setInterval(refreshHealth, 30000);
