// Datasets: what preprocessing made of the uploads — versions with their validation reports, and rejections with reasons.
import { h, badge, breadcrumbs, bytes, card, meter, notice, number, pageHeader, percent, shortVersion, stat, table, when } from '../dom.js';
import { api } from '../api.js';

const datasetLink = name => `#/datasets/${encodeURIComponent(name)}`;

export async function list(page) {
  const datasets = await api.datasets();
  page.poll(async () => {
    const fresh = await api.datasets();
    if (JSON.stringify(fresh) !== JSON.stringify(datasets)) document.getElementById('datasets-table')?.replaceWith(datasetsTable(fresh));
  }, 5000);
  return h('div',
    pageHeader('Datasets', 'Every upload under raw/{dataset}/ becomes a dataset version or a rejection report. Newest first within each dataset.'),
    card(null, datasetsTable(datasets)));
}

function datasetsTable(datasets) {
  return h('div', { id: 'datasets-table' }, table([
    { label: 'Dataset', value: d => h('strong', d.name) },
    { label: 'Versions', value: d => number(d.versions), class: 'num' },
    { label: 'Latest version', value: d => d.latestVersion ? h('span', shortVersion(d.latestVersion), ' ', when(d.latestVersionAt)) : h('span.muted', 'none') },
    { label: 'Rejections', value: d => d.rejections ? h('span', badge(`${d.rejections} rejected`, 'bad'), ' ', when(d.latestRejectionAt)) : h('span.muted', 'none') },
    { label: 'State', value: d => d.pending ? badge('pending') : d.versions ? badge('accepted') : badge('rejected') },
  ], datasets, { rowLink: d => datasetLink(d.name), empty: 'No datasets yet. Upload a CSV, JSON Lines or Parquet file to raw/{dataset}/ and it appears here.' }));
}

export async function detail(page, name) {
  const dataset = await api.dataset(name);
  const latest = dataset.versions[0];
  return h('div',
    breadcrumbs({ label: 'Datasets', href: '#/datasets' }, { label: name }),
    pageHeader(name, latest ? `Trains model ${latest.model} (${latest.task}, target ${latest.target}).` : 'No accepted version yet.',
      dataset.pending ? badge('build pending') : null),
    latest ? h('div.stats',
      stat('Versions', number(dataset.versions.length + dataset.omittedVersions)),
      stat('Rows used (latest)', number(latest.rows.used), `of ${number(latest.rows.read)} read`),
      stat('Features (latest)', number(latest.features)),
      stat('Rejections', number(dataset.rejections.length + dataset.omittedRejections))) : null,
    card('Versions', table([
      { label: 'Version', value: v => shortVersion(v.version) },
      { label: 'Created', value: v => when(v.createdAt) },
      { label: 'Task', value: v => `${v.task} → ${v.target}` },
      { label: 'Rows used', value: v => `${number(v.rows.used)} / ${number(v.rows.read)}`, class: 'num' },
      { label: 'Split', value: v => `${number(v.rows.train)} · ${number(v.rows.validation)} · ${number(v.rows.test)}` },
      { label: 'Warnings', value: v => v.warnings ? badge(`${v.warnings}`, 'warn') : h('span.muted', '0') },
      { label: 'Model', value: v => h('a', { href: `#/models/${encodeURIComponent(v.model)}` }, v.model) },
    ], dataset.versions, { rowLink: v => `${datasetLink(name)}/versions/${encodeURIComponent(v.version)}`, empty: 'No accepted versions.' }),
    dataset.omittedVersions ? h('p.muted', `${dataset.omittedVersions} older versions are not listed.`) : null),
    card('Rejections', dataset.rejections.length
      ? h('ul.rejections', dataset.rejections.map(r => h('li.rejection',
        h('a', { href: `${datasetLink(name)}/rejections/${encodeURIComponent(r.id)}` },
          h('div.rejection-head', badge(r.reason, 'bad'), h('span.rejection-blob', r.blob), when(r.rejectedAt)),
          h('p.rejection-message', r.message),
          r.line ? h('p.muted', `First offending line: ${r.line}`) : null))))
      : h('p.empty', 'No upload of this dataset was rejected.'),
    dataset.omittedRejections ? h('p.muted', `${dataset.omittedRejections} older rejections are not listed.`) : null));
}

export async function version(page, name, versionName) {
  const { manifest, report, timeline } = await api.datasetVersion(name, versionName);
  return h('div',
    breadcrumbs({ label: 'Datasets', href: '#/datasets' }, { label: name, href: datasetLink(name) }, { label: shortVersion(versionName) }),
    pageHeader(`${name} · version`, `Created ${new Date(manifest.createdAt).toLocaleString('en-GB')} from ${manifest.sources.length} file(s). Trains ${manifest.model}.`,
      badge('accepted'), h('a.button', { href: `#/models/${encodeURIComponent(manifest.model)}` }, 'Model')),
    h('p.mono.muted', manifest.version),
    timeline?.length ? stageTimeline(timeline) : null,
    report ? validationReport(report) : notice('This version has no validation report (written before reports existed).'),
    manifest.encodings?.length ? card('Encodings (how columns become features)', table([
      { label: 'Column', value: e => h('strong', e.column) },
      { label: 'Kind', value: e => e.kind },
      { label: 'Features', value: e => number(e.features.length), class: 'num' },
      { label: 'Categories / parts', value: e => (e.categories?.length ? e.categories : e.parts ?? []).join(', ') || '–' },
    ], manifest.encodings)) : null);
}

/** Upload to served: each stage, when it started and how long until the next one. */
function stageTimeline(timeline) {
  const start = new Date(timeline[0].at).getTime();
  const seconds = ms => ms < 1000 ? `${Math.round(ms)} ms` : ms < 120000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60000).toFixed(1)} min`;
  const rows = timeline.map((t, i) => ({
    ...t,
    offset: new Date(t.at).getTime() - start,
    took: i + 1 < timeline.length ? new Date(timeline[i + 1].at).getTime() - new Date(t.at).getTime() : null,
  }));
  return card('Timeline (upload to served)', table([
    { label: 'Stage', value: t => h('strong', t.stage) },
    { label: 'At', value: t => new Date(t.at).toLocaleString('en-GB') },
    { label: 'Since upload', value: t => `+${seconds(t.offset)}`, class: 'num' },
    { label: 'Took', value: t => t.took === null ? '–' : seconds(t.took), class: 'num' },
    { label: 'Detail', value: t => t.detail ?? '' },
  ], rows, { caption: 'Times from the dataset manifest, the training run\'s status and the model manifest.' }));
}

export async function rejection(page, name, id) {
  const report = await api.rejection(name, id);
  return h('div',
    breadcrumbs({ label: 'Datasets', href: '#/datasets' }, { label: name, href: datasetLink(name) }, { label: 'Rejection' }),
    pageHeader(`${report.blob}`, `Rejected ${new Date(report.rejectedAt).toLocaleString('en-GB')}.`, badge('rejected')),
    h('div.notice.error.rejection-reason', { role: 'alert' },
      h('div', h('strong', 'Reason: '), h('code', report.reason)),
      h('p', report.message),
      report.line ? h('p', `First offending line: ${report.line}`) : null),
    report.validation ? validationReport(report.validation) : h('p.muted', 'Nothing could be read from the file.'));
}

/** The validation report: files, rows kept and dropped, column types and missing shares, warnings. */
export function validationReport(report) {
  const rows = report.rows ?? {};
  const dropped = (rows.droppedRagged ?? 0) + (rows.droppedMissingTarget ?? 0) + (rows.droppedUnreadableTarget ?? 0);
  return h('div.report',
    h('div.stats',
      stat('Rows read', number(rows.read)),
      stat('Rows used', number(rows.used), rows.read ? percent(rows.used / rows.read) : null),
      stat('Dropped', number(dropped), dropped ? 'see below' : null),
      stat('Train · validation · test', `${number(rows.train)} · ${number(rows.validation)} · ${number(rows.test)}`),
      stat('Imputed cells', number(rows.imputedCells)),
      stat('Duplicate rows', number(rows.duplicateRows))),
    report.warnings?.length ? card('Warnings', h('ul.warnings', report.warnings.map(w => h('li', badge(w.code, 'warn'), ' ', w.message)))) : null,
    card('Columns', table([
      { label: 'Column', value: c => h('strong', c.name) },
      { label: 'Type', value: c => h('span', h('code', c.type), c.reason ? h('span.muted.block', c.reason) : null) },
      { label: 'Role', value: c => badge(c.role, c.role === 'target' ? 'info' : c.role === 'excluded' ? 'neutral' : 'good') },
      { label: 'Missing', value: c => h('span.missing', meter(c.missingShare, c.missingShare > 0.2 ? 'warn' : null), ' ', percent(c.missingShare)) },
      { label: 'Unreadable', value: c => number(c.unreadable), class: 'num' },
      { label: 'Distinct', value: c => `${c.distinctIsLowerBound ? '≥ ' : ''}${number(c.distinct)}`, class: 'num' },
      { label: 'Range / top values', value: c => c.min !== undefined && c.min !== null
        ? `${number(c.min)} … ${number(c.max)} (mean ${number(c.mean)})`
        : (c.topValues ?? []).slice(0, 4).map(v => `${v.value} (${number(v.count)})`).join(', ') || '–' },
    ], report.columns ?? [], { empty: 'No columns were read.' })),
    report.dropped?.length ? card('Dropped rows', report.dropped.map(d => h('div.dropped',
      h('h3', badge(d.reason, 'warn'), ` ${number(d.count)} rows`),
      table([
        { label: 'File', value: e => e.blob },
        { label: 'Line', value: e => number(e.line), class: 'num' },
        { label: 'Row', value: e => h('code.row-text', e.text) },
      ], d.examples ?? [], { empty: 'No examples kept.' })))) : null,
    report.files?.length ? card('Files', table([
      { label: 'File', value: f => f.blob },
      { label: 'Format', value: f => [f.format, f.delimiter ? `delimiter ${JSON.stringify(f.delimiter)}` : null].filter(Boolean).join(', ') || '–' },
      { label: 'Size', value: f => bytes(f.bytes), class: 'num' },
      { label: 'Rows', value: f => number(f.rows), class: 'num' },
      { label: 'Used', value: f => f.used ? badge('used', 'good') : h('span', badge(f.reason ?? 'skipped', 'bad'), f.message ? h('span.block', f.message) : null) },
    ], report.files)) : null);
}
