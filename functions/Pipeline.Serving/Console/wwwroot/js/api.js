// The serving app's JSON API, called with the function key the user entered (x-functions-key), as any API client does.

const keyStorage = 'pipeline.functionKey';
const adminKeyStorage = 'pipeline.adminKey';

export const keys = {
  get function() { return sessionStorage.getItem(keyStorage) ?? ''; },
  get admin() { return sessionStorage.getItem(adminKeyStorage) ?? ''; },
  save(functionKey, adminKey) {
    sessionStorage.setItem(keyStorage, functionKey);
    if (adminKey) sessionStorage.setItem(adminKeyStorage, adminKey); else sessionStorage.removeItem(adminKeyStorage);
  },
  forget() { sessionStorage.removeItem(keyStorage); sessionStorage.removeItem(adminKeyStorage); },
};

/** An API failure with the problem details the app returned (RFC 7807). */
export class ApiError extends Error {
  constructor(status, title, detail) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.title = title || `HTTP ${status}`;
    this.detail = detail || '';
  }
}

const listeners = new Set();

/** Called with the ApiError whenever a call is refused for its key (401/403), so the app can ask for one. */
export function onUnauthorized(listener) { listeners.add(listener); }

async function request(path, { method = 'GET', body, admin = false, as = 'json', signal } = {}) {
  const headers = { Accept: as === 'json' ? 'application/json' : '*/*' };
  const key = admin ? (keys.admin || keys.function) : keys.function;
  if (key) headers['x-functions-key'] = key;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal, cache: 'no-store' });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, 'The app did not answer', `${method} ${path} failed: ${error.message}. Is the serving app running?`);
  }

  if (!response.ok) {
    let title = response.statusText;
    let detail = '';
    try {
      const problem = await response.json();
      title = problem.title || title;
      detail = problem.detail || '';
    } catch { /* not a problem document */ }
    const error = new ApiError(response.status, title, detail);
    if (response.status === 401 || response.status === 403) listeners.forEach(listener => listener(error, admin));
    throw error;
  }

  return as === 'blob' ? response.blob() : as === 'text' ? response.text() : response.json();
}

const segment = encodeURIComponent;

/** ?a=1&b=2 from the defined values, or ''. */
const query = values => {
  const pairs = Object.entries(values).filter(([, v]) => v !== undefined && v !== null && v !== '');
  return pairs.length ? `?${pairs.map(([k, v]) => `${k}=${segment(v)}`).join('&')}` : '';
};

export const api = {
  health: () => request('/api/health'),
  models: () => request('/api/models'),
  model: name => request(`/api/models/${segment(name)}`),
  drift: name => request(`/api/models/${segment(name)}/drift`),
  modelVersion: (name, version) => request(`/api/models/${segment(name)}/versions/${segment(version)}`),
  reportFile: (name, version, file) => request(`/api/models/${segment(name)}/versions/${segment(version)}/files/${segment(file)}`, { as: 'blob' }),
  predict: (name, rows, version) => request(`/api/models/${segment(name)}/predict${version ? `?version=${segment(version)}` : ''}`, { method: 'POST', body: { rows } }),
  setCurrent: (name, version) => request(`/api/models/${segment(name)}/current`, { method: 'POST', body: { version }, admin: true }),
  scoring: (model, limit) => request(`/api/scoring${query({ model, limit })}`),
  runs: () => request('/api/runs'),
  run: id => request(`/api/runs/${segment(id)}`),
  datasets: () => request('/api/datasets'),
  dataset: name => request(`/api/datasets/${segment(name)}`),
  datasetVersion: (name, version) => request(`/api/datasets/${segment(name)}/versions/${segment(version)}`),
  rejection: (name, id) => request(`/api/datasets/${segment(name)}/rejections/${segment(id)}`),
};
