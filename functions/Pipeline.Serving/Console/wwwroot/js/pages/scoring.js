// Batch scoring: every file dropped under score/ and what became of it, from the reports beside the outputs.
import { h, badge, breadcrumbs, bytes, card, duration, notice, number, pageHeader, shortVersion, table, when } from '../dom.js';
import { api } from '../api.js';

export const scoringLink = model => model ? `#/scoring/${encodeURIComponent(model)}` : '#/scoring';

/** The newest jobs of every model; refreshed every 5 s, so a file handed to the scoring job turns into its result. */
export async function list(page) {
  return jobsPage(page, null);
}

/** One model's jobs (score/{model}/ and score/{model}@{version}/). */
export async function detail(page, model) {
  return jobsPage(page, model);
}

async function jobsPage(page, model) {
  const jobs = await api.scoring(model);
  const holder = h('div', { id: 'scoring-jobs' }, jobsTable(jobs, { showModel: !model }));
  page.poll(async () => {
    const fresh = await api.scoring(model);
    if (JSON.stringify(fresh) !== JSON.stringify(jobs)) holder.replaceChildren(jobsTable(fresh, { showModel: !model }));
  }, 5000);
  return h('div',
    model ? breadcrumbs({ label: 'Batch scoring', href: scoringLink() }, { label: model }) : null,
    pageHeader(model ? `Batch scoring: ${model}` : 'Batch scoring',
      'A file dropped at score/{model}/… is scored with the current version (or score/{model}@{version}/…) and written to predictions/ with a report beside it. Newest first.',
      model ? h('a.button', { href: `#/models/${encodeURIComponent(model)}` }, 'Model') : null),
    card(null, holder));
}

const status = job => !job.report ? badge('unreadable', 'bad')
  : job.report.status === 'succeeded' ? badge('scored')
  : job.report.status === 'handed-to-job' ? badge('handed to job', 'info')
  : badge('failed');

const where = report => report?.scoredBy === 'job' ? 'scoring job' : report?.scoredBy === 'functions-app' ? 'functions app' : '–';

/** A table of jobs: status, file, model version, where, rows, output, when; the reason or message under a failed one. */
export function jobsTable(list, { showModel = true, empty } = {}) {
  return h('div',
    table([
      { label: 'Status', value: j => h('span', status(j)) },
      { label: 'File', value: j => j.report ? h('span.mono', j.report.input) : h('span.mono', j.path) },
      showModel ? { label: 'Model', value: j => j.report?.model ? h('a', { href: scoringLink(j.report.model) }, j.report.model) : '–' } : null,
      { label: 'Version', value: j => h('span', shortVersion(j.report?.version)) },
      { label: 'Where', value: j => where(j.report) },
      { label: 'Rows', value: rows, class: 'num' },
      { label: 'Output', value: j => j.report?.output ? h('span.mono', j.report.output) : h('span.muted', '–') },
      { label: 'Started', value: j => j.report ? h('span', when(j.report.startedAt), j.report.seconds ? h('span.muted', ` · ${duration(j.report.seconds)}`) : null) : when(j.writtenAt) },
      { label: 'Details', value: details },
    ].filter(Boolean), list.jobs, { empty: empty ?? 'No files scored yet. Drop a CSV, JSON Lines or Parquet file at score/{model}/ and it appears here.' }),
    list.omitted ? h('p.muted', `${number(list.omitted)} older reports are not listed.`) : null,
    list.scanStopped ? notice('The listing of predictions/ stopped at its limit; older reports may be missing.', 'warn') : null);
}

function rows(job) {
  const report = job.report;
  if (!report || report.status !== 'succeeded') return h('span.muted', '–');
  return h('span', `${number(report.scored)} of ${number(report.rows)}`, report.failed ? h('span.error-text', ` (${number(report.failed)} not)`) : null);
}

function details(job) {
  const report = job.report;
  if (!report) return h('span.error-text', job.problem);
  const size = report.bytes !== undefined && report.bytes !== null ? `${bytes(report.bytes)}. ` : '';
  if (report.status === 'failed') return h('span', badge(report.reason ?? 'failed', 'bad'), ' ', h('span.error-text', report.message));
  const bad = report.badRows?.length ? h('ul.bad-rows', report.badRows.map(b => h('li', `line ${number(b.line)}: ${b.reason}`))) : null;
  return h('span', h('span.muted', size + report.message), bad);
}
