// Models: metrics, report plots, search and quantization tables, every version and which one serves, "try it", rollback.
import { h, badge, breadcrumbs, bytes, card, duration, notice, number, pageHeader, percent, shortVersion, stat, table, when } from '../dom.js';
import { api, ApiError } from '../api.js';
import { jobsTable, scoringLink } from './scoring.js';

const modelLink = name => `#/models/${encodeURIComponent(name)}`;
const plotCaptions = {
  'report-loss.png': 'Loss per epoch of the chosen trial',
  'report-search.png': 'Validation metric per epoch, every trial',
  'report-confusion.png': 'Confusion matrix of the served model on the test split',
  'report-predicted.png': 'Predicted vs actual, served model, test split',
};

export async function list(page) {
  const models = await api.models();
  return h('div',
    pageHeader('Models', 'Every model in storage, the version current.json names and the version this instance serves.'),
    models.length
      ? h('div.grid', models.map(modelCard))
      : card(null, h('p.empty', 'No models yet. A dataset\'s first accepted version trains one; an ONNX file in models/{name}/{version}/model.onnx serves as it is.')));
}

function mainMetric(metrics) {
  if (!metrics) return null;
  for (const name of ['accuracy', 'r2', 'macroF1', 'rmse']) if (name in metrics) return [name, metrics[name]];
  const first = Object.entries(metrics)[0];
  return first ?? null;
}

function modelCard(model) {
  const metric = mainMetric(model.testMetrics);
  return h('a.card.model-card', { href: modelLink(model.name) },
    h('div.model-card-head', h('h2', model.name), model.task ? badge(model.task, 'neutral') : null),
    metric ? h('div.big-metric', h('span.big-metric-value', number(metric[1], 3)), h('span.big-metric-label', `test ${metric[0]}`)) : h('p.muted', 'No metrics (bring-your-own ONNX).'),
    h('dl.facts',
      h('dt', 'Current'), h('dd', shortVersion(model.currentVersion)),
      h('dt', 'Serving here'), h('dd', model.servedVersion ? shortVersion(model.servedVersion) : h('span.muted', 'not loaded yet')),
      h('dt', 'Versions'), h('dd', number(model.versions)),
      h('dt', 'Features'), h('dd', model.features ? number(model.features.length) : '–')),
    model.problem ? notice(`Version ${model.problem.version}: ${model.problem.message}`, 'warn') : null);
}

export async function detail(page, name, versionName) {
  const details = await api.model(name);
  const shown = versionName ?? details.currentVersion;
  const info = details.versions.find(v => v.version === shown);
  // The published manifest (encodings, report files, search and quantization tables); a bring-your-own version has
  // none, and the contract read from its graph (details.current) is all there is.
  const manifest = info?.source === 'manifest'
    ? await api.modelVersion(name, shown).catch(notFoundAsNull)
    : (shown === details.currentVersion ? details.current : null);
  // The list, not GET /api/runs?model=: a model without runs (bring-your-own) is not an error worth a 404 in the console.
  const run = (await api.runs().catch(() => ({ runs: [] }))).runs.find(r => r.model === name);

  const root = h('div',
    breadcrumbs({ label: 'Models', href: '#/models' }, versionName ? { label: name, href: modelLink(name) } : { label: name }, versionName ? { label: shortVersion(versionName) } : null),
    pageHeader(name, manifest ? `${manifest.task} on ${manifest.features.length} features, target ${manifest.target || '–'}; from dataset ${manifest.dataset || '–'}.` : 'A bring-your-own ONNX model (no manifest).',
      shown === details.currentVersion ? badge('current') : badge('not current', 'neutral'),
      shown && shown === details.servedVersion ? badge('serving') : null,
      run ? h('a.button', { href: `#/runs/${encodeURIComponent(run.runId)}` }, 'Latest run') : null),
    h('p.mono.muted', `version ${shown ?? '–'}`),
    details.problem ? notice(`This instance could not switch to version ${details.problem.version}: ${details.problem.message}`, 'warn') : null,
    details.currentVersion !== details.servedVersion && details.servedVersion
      ? notice(`current.json names ${details.currentVersion}; this instance still serves ${details.servedVersion}.`, 'warn') : null,
    metrics(manifest, info),
    details.drift && shown === details.currentVersion ? drift(page, name, details.drift) : null,
    versionName ? null : batchScoring(page, name),
    manifest?.report?.some(f => f.endsWith('.png')) ? plots(page, name, shown, manifest.report.filter(f => f.endsWith('.png'))) : null,
    tryIt(name, shown, manifest, details, versionName),
    versionsCard(name, details, shown),
    manifest?.promotion ? promotion(manifest.promotion) : null,
    manifest?.search ? search(manifest.search) : null,
    manifest?.quantization ? quantization(manifest.quantization) : null,
    manifest?.training ? training(manifest.training) : null);
  return root;
}

/** The latest drift report: its status and message at once, then each column's numbers from GET /api/models/{name}/drift. */
function drift(page, name, summary) {
  const columns = h('div', h('p.muted', 'Loading the report…'));
  api.drift(name).then(report => {
    if (page.signal.aborted) return;
    const rows = [...report.columns, ...(report.predictions ? [report.predictions] : [])];
    columns.replaceChildren(liveQuality(name, report.outcomes), retrain(report.retrain), table([
      { label: 'Column', value: c => c.column },
      { label: 'Status', value: c => badge(c.status) },
      { label: 'PSI', value: c => number(c.psi, 3), class: 'num' },
      { label: 'Missing (train → now)', value: c => `${percent(c.trainMissingRate)} → ${percent(c.missingRate)}` },
      { label: 'Why', value: c => c.reasons.join('; ') },
    ], rows, { caption: `${number(report.rows)} observed rows, ${report.windowStart.slice(0, 10)} to ${report.windowEnd.slice(0, 10)}` }));
  }).catch(error => columns.replaceChildren(h('p.error-text', `Could not load the drift report: ${error.message}`)));
  return card('Drift',
    h('p', badge(summary.status), ' ', summary.message),
    summary.version !== undefined && !summary.drifted && summary.status === 'drifted'
      ? notice(`This report judged version ${summary.version}, not the current one.`, 'info') : null,
    h('p.muted', `Report of ${summary.createdAt.slice(0, 10)}: ${summary.report} (docs/monitoring.md).`),
    columns);
}

/** Live accuracy (or R²) from labelled outcomes next to the test split's, and what they were computed from. */
function liveQuality(name, outcomes) {
  if (!outcomes) {
    return h('div.drift-outcomes', h('h3', 'Live quality'),
      h('p.muted', `No labelled outcomes yet: upload the true labels of scored rows to outcomes/${name}/ (id and target columns) and the next report shows the live figure.`));
  }
  const metric = outcomes.metric === 'r2' ? 'R²' : outcomes.metric;
  const gap = outcomes.live !== null && outcomes.live !== undefined && outcomes.test !== null && outcomes.test !== undefined ? outcomes.live - outcomes.test : null;
  return h('div.drift-outcomes', h('h3', 'Live quality'),
    h('div.stats',
      stat(`Live ${metric}`, number(outcomes.live, 4), gap === null ? (outcomes.matched ? null : 'no outcome matched a row') : `${gap >= 0 ? '+' : '−'}${number(Math.abs(gap), 4)} vs test`),
      stat(`Test ${metric}`, number(outcomes.test, 4), 'test split, at training'),
      stat('Matched rows', number(outcomes.matched), `of ${number(outcomes.rows)} outcomes in ${number(outcomes.files)} file(s)`),
      stat('Unmatched', number(outcomes.unmatchedOutcomes), `by ${outcomes.idColumn}; unreadable ${number(outcomes.unreadableRows)}`)),
    outcomes.truncated ? notice(outcomes.truncatedBy ?? 'Reading outcomes stopped at its limit.', 'warn') : null,
    outcomes.problems?.length ? h('ul.problems', outcomes.problems.map(p => h('li.error-text', p))) : null);
}

/** The retrain decision of the drift run: requested, why not, and on which new files. */
function retrain(decision) {
  if (!decision) return null;
  return h('div.drift-retrain', h('h3', 'Retrain'),
    h('p', badge(decision.outcome), ' ', decision.message),
    decision.dataset || decision.requestedAt || decision.newFileCount ? h('dl.facts.inline',
      decision.dataset ? [h('dt', 'Dataset'), h('dd', decision.dataset, ' ', shortVersion(decision.datasetVersion))] : null,
      decision.newFileCount ? [h('dt', 'New files'), h('dd', `${number(decision.newFileCount)}: ${decision.newFiles.join(', ')}${decision.newFileCount > decision.newFiles.length ? ', …' : ''}`)] : null,
      decision.requestedAt ? [h('dt', 'Requested'), h('dd', when(decision.requestedAt))] : null) : null);
}

/** The model's newest batch-scoring jobs; every one on the Batch scoring page. */
function batchScoring(page, name) {
  const holder = h('div', h('p.muted', 'Loading the batch-scoring jobs…'));
  api.scoring(name, 5).then(list => {
    if (page.signal.aborted) return;
    holder.replaceChildren(jobsTable(list, { showModel: false, empty: `No files scored with this model yet. Drop one at score/${name}/.` }));
  }).catch(error => holder.replaceChildren(h('p.error-text', `Could not list the batch-scoring jobs: ${error.message}`)));
  return card('Batch scoring', holder, h('p', h('a', { href: scoringLink(name) }, 'Every batch-scoring job of this model')));
}

function notFoundAsNull(error) {
  if (error instanceof ApiError && error.status === 404) return null;
  throw error;
}

function metrics(manifest, info) {
  const test = manifest?.testMetrics ?? info?.testMetrics;
  const validation = manifest?.validationMetrics ?? info?.validationMetrics;
  if (!test && !validation) return null;
  return card('Metrics',
    test ? h('div', h('h3', 'Test split (served artifact)'), h('div.stats.metrics', Object.entries(test).map(([k, v]) => stat(k, number(v, 4))))) : null,
    validation ? h('div', h('h3', 'Validation split'), h('div.stats.metrics', Object.entries(validation).map(([k, v]) => stat(k, number(v, 4))))) : null);
}

function plots(page, name, version, files) {
  const figures = files.map(file => {
    const figure = h('figure.plot', h('div.plot-placeholder', 'Loading plot…'), h('figcaption', plotCaptions[file] ?? file));
    api.reportFile(name, version, file).then(blob => {
      if (page.signal.aborted) return;
      const url = URL.createObjectURL(blob);
      page.signal.addEventListener('abort', () => URL.revokeObjectURL(url));
      figure.firstChild.replaceWith(h('img', { src: url, alt: plotCaptions[file] ?? file, loading: 'lazy', dataset: { file } }));
    }).catch(error => figure.firstChild.replaceWith(h('p.error-text', `Could not load ${file}: ${error.message}`)));
    return figure;
  });
  return card('Training report', h('div.plots', figures));
}

/** A form with one input per raw column the model takes (its encodings), or per feature for bring-your-own models. */
function tryIt(name, version, manifest, details, pinned) {
  const fields = inputsFor(manifest);
  if (!fields.length) return null;
  const result = h('div.prediction', { 'aria-live': 'polite' });
  const form = h('form.try-it', {
    onsubmit: async event => {
      event.preventDefault();
      const row = {};
      for (const field of fields) {
        const raw = form.elements[field.key].value;
        if (raw === '') { row[field.key] = null; continue; }
        row[field.key] = field.kind === 'numeric' ? Number(raw) : field.kind === 'boolean' ? raw === 'true' : raw;
      }
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      result.replaceChildren(h('span.muted', 'Predicting…'));
      try {
        const response = await api.predict(name, [row], pinned);
        result.replaceChildren(predictionView(response));
      } catch (error) {
        result.replaceChildren(notice(`${error.title ?? 'Error'}: ${error.detail || error.message}`, 'error'));
      } finally {
        button.disabled = false;
      }
    },
  },
  h('div.fields', fields.map(field => h('label.field',
    h('span.field-name', field.key, h('span.muted', ` ${field.kind}`)),
    field.options
      ? h('select', { name: field.key }, h('option', { value: '' }, '(missing)'), field.options.map(o => h('option', { value: o, selected: o === field.value }, o)))
      : h('input', { name: field.key, type: field.kind === 'numeric' ? 'number' : field.kind === 'datetime' ? 'datetime-local' : 'text', step: 'any', value: field.value ?? '' })))),
  h('div.actions', h('button.button.primary', { type: 'submit' }, 'Predict')));
  return card(`Try it${pinned ? ` (version ${pinned.slice(0, 12)})` : ''}`,
    h('p.muted', 'Values start at the training data\'s typical value (median or most frequent). One row goes to POST /api/models/{name}/predict.'),
    form, result);
}

function inputsFor(manifest) {
  if (manifest?.encodings?.length) {
    return manifest.encodings.map(e => {
      if (e.kind === 'categorical') {
        // The last feature is the "other" bucket; the most frequent category comes first.
        return { key: e.column, kind: e.kind, options: e.categories, value: e.categories[0] };
      }
      if (e.kind === 'boolean') return { key: e.column, kind: e.kind, options: ['true', 'false'], value: (e.missing?.[0] ?? 0) >= 0.5 ? 'true' : 'false' };
      if (e.kind === 'datetime') return { key: e.column, kind: e.kind, value: '' };
      return { key: e.column, kind: 'numeric', value: roundForInput(e.missing?.[0]) };
    });
  }

  const features = manifest?.features ?? [];
  const stats = Object.fromEntries((manifest?.featureStats ?? []).map(s => [s.name, s]));
  return features.map(f => ({ key: f, kind: 'numeric', value: roundForInput(stats[f]?.median ?? 0) }));
}

function roundForInput(value) {
  return value === undefined || value === null ? '' : String(Math.round(value * 1e4) / 1e4);
}

function predictionView(response) {
  const prediction = response.predictions[0];
  if (prediction.value !== undefined && prediction.value !== null) {
    return h('div.prediction-result', h('div.big-metric', h('span.big-metric-value', number(prediction.value, 4)), h('span.big-metric-label', 'predicted value')),
      h('p.muted', `version ${response.version}`));
  }

  const probabilities = Object.entries(prediction.probabilities ?? {}).sort((a, b) => b[1] - a[1]);
  return h('div.prediction-result',
    h('div.big-metric', h('span.big-metric-value.label', prediction.label), h('span.big-metric-label', 'predicted class')),
    h('ul.probabilities', probabilities.map(([label, p]) => h('li',
      h('span.probability-label', label), h('span.meter.wide', h(`span.meter-fill${label === prediction.label ? '.good' : ''}`, { style: { width: `${(p * 100).toFixed(1)}%` } })), h('span.num', percent(p))))),
    h('p.muted', `version ${response.version}`));
}

function versionsCard(name, details, shown) {
  const metricName = mainMetric(details.versions.find(v => v.testMetrics)?.testMetrics)?.[0];
  return card('Versions', table([
    { label: 'Version', value: v => h('span', shortVersion(v.version), v.version === shown ? h('span.muted', ' (shown)') : null) },
    { label: 'Created', value: v => when(v.createdAt) },
    { label: metricName ? `Test ${metricName}` : 'Test metric', value: v => number(v.testMetrics?.[metricName], 4), class: 'num' },
    { label: 'State', value: v => h('span.badges', v.isCurrent ? badge('current') : null, v.version === details.servedVersion ? badge('serving') : null, v.loaded ? badge('loaded', 'neutral') : null) },
    { label: 'Requests', value: v => v.requests !== undefined ? `${number(v.requests)} (${number(v.rows)} rows)` : '–', class: 'num' },
    { label: 'Admin', value: v => v.isCurrent ? h('span.muted', '–') : h('button.button.small', { type: 'button', onclick: () => confirmSetCurrent(name, details.currentVersion, v.version) }, 'Make current') },
  ], details.versions, { rowLink: v => `${modelLink(name)}/versions/${encodeURIComponent(v.version)}` }),
  h('p.muted', 'Making an older version current is a rollback: the app loads it, checks a prediction, then moves current.json (admin key in Azure).'));
}

function confirmSetCurrent(name, from, to) {
  const message = h('p.dialog-result', { 'aria-live': 'polite' });
  const dialog = h('dialog.dialog', { id: 'rollback-dialog' },
    h('form', { method: 'dialog', onsubmit: async event => {
      event.preventDefault();
      const button = dialog.querySelector('button.primary');
      button.disabled = true;
      message.replaceChildren(h('span.muted', 'Loading the version and checking a prediction…'));
      try {
        const result = await api.setCurrent(name, to);
        message.replaceChildren(notice(`${result.model} now serves ${result.version} (was ${result.previousVersion ?? 'none'}).`, 'good'));
        setTimeout(() => { dialog.close(); dialog.remove(); location.hash = modelLink(name); window.dispatchEvent(new HashChangeEvent('hashchange')); }, 900);
      } catch (error) {
        const hint = error.status === 401 || error.status === 403 ? ' Enter the admin key with the Key button.' : '';
        message.replaceChildren(notice(`${error.title}: ${error.detail || error.message}${hint}`, 'error'));
        button.disabled = false;
      }
    } },
    h('h2', `Make ${to.slice(0, 12)} current?`),
    h('p', `Model ${name} serves ${from ? from.slice(0, 12) : 'no version'} now. Every instance switches to ${to} within seconds.`),
    message,
    h('div.actions',
      h('button.button.ghost', { type: 'button', onclick: () => { dialog.close(); dialog.remove(); } }, 'Cancel'),
      h('button.button.primary', { type: 'submit' }, 'Make current'))));
  document.body.append(dialog);
  dialog.showModal();
}

function promotion(p) {
  return card('Promotion (champion / challenger)',
    h('p', p.promoted ? badge('promoted') : badge('not promoted', 'neutral'), p.forced ? badge('forced', 'warn') : null, ' ', p.reason),
    h('dl.facts.inline',
      h('dt', `This version (${p.metric})`), h('dd', number(p.challenger, 4)),
      h('dt', 'Champion'), h('dd', p.championVersion ? h('span', shortVersion(p.championVersion), ` ${number(p.champion, 4)}`) : '–'),
      h('dt', 'Tolerance'), h('dd', number(p.tolerance, 4))));
}

function search(s) {
  return card('Model search', h('p.muted', `${s.trials.length} trials in ${duration(s.seconds)}; stopped by ${s.stoppedBy}; ranked by ${s.selectedBy}.${s.refitOnValidation ? ' The chosen configuration was refit on train + validation.' : ''}`),
    table([
      { label: '#', value: t => number(t.index + 1), class: 'num' },
      { label: 'Kind', value: t => h('span', t.kind, t.index === s.trials[s.selected]?.index ? h('span', ' ', badge('chosen', 'good')) : null, t.ensembleMember ? h('span', ' ', badge('ensemble', 'neutral')) : null) },
      { label: 'Configuration', value: t => t.description ?? (t.hiddenLayers?.length ? `${t.hiddenLayers.join('×')}, lr ${t.learningRate}` : '–') },
      { label: 'Val. loss', value: t => number(t.validationLoss, 4), class: 'num' },
      { label: `Val. ${s.metric}`, value: t => number(t.validationMetric, 4), class: 'num' },
      { label: 'Epochs (best)', value: t => `${number(t.epochs)} (${number(t.bestEpoch)})`, class: 'num' },
      { label: 'Time', value: t => duration(t.seconds), class: 'num' },
      { label: 'Stopped', value: t => t.stopReason },
    ], s.trials),
    s.ensemble ? h('p.muted', `Ensemble of ${s.ensemble.members}: validation loss ${number(s.ensemble.validationLoss, 4)}, ${s.ensemble.used ? 'served' : 'not better, not served'}.`) : null);
}

function quantization(q) {
  return card('Quantization', h('p', 'Serves ', badge(q.served, 'good'), ` — ${q.reason}`),
    h('p.muted', `Policy ${q.policy}; quality metric ${q.qualityMetric}, at most ${percent(q.maxRelativeQualityLoss)} worse than fp32.`),
    table([
      { label: 'Candidate', value: c => h('strong', c.name) },
      { label: 'How', value: c => c.description },
      { label: 'Size', value: c => bytes(c.bytes), class: 'num' },
      { label: q.qualityMetric, value: c => number(c.quality, 4), class: 'num' },
      { label: 'Agreement', value: c => c.agreement !== undefined ? percent(c.agreement, 2) : '–', class: 'num' },
      { label: 'Max |Δ|', value: c => number(c.maxAbsDifference, 4), class: 'num' },
      { label: 'Latency ×1', value: c => c.latencyBatch1Microseconds !== undefined ? `${number(c.latencyBatch1Microseconds, 1)} µs` : '–', class: 'num' },
      { label: 'Latency ×64', value: c => c.latencyBatch64Microseconds !== undefined ? `${number(c.latencyBatch64Microseconds, 1)} µs` : '–', class: 'num' },
      { label: 'Verdict', value: c => c.error ? h('span.error-text', c.error) : c.verdict },
    ], q.candidates));
}

function training(t) {
  return card('Training', h('dl.facts.inline',
    h('dt', 'Family'), h('dd', t.model ?? t.family),
    h('dt', 'Device'), h('dd', t.device),
    h('dt', 'Search time'), h('dd', duration(t.seconds)),
    h('dt', 'GPU seconds'), h('dd', `${number(t.gpuSeconds, 1)} (≈ $${number(t.estimatedCost, 4)})`),
    h('dt', 'Attempts'), h('dd', number(t.attempts)),
    h('dt', 'ONNX vs TorchSharp'), h('dd', `max |Δ| ${number(t.onnxMaxAbsDiff, 6)}`)));
}
