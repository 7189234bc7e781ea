// Training runs: the latest run of every model, and one run live (polled) with its loss curve.
import { h, badge, breadcrumbs, card, duration, meter, notice, number, pageHeader, shortVersion, stat, table, when } from '../dom.js';
import { api } from '../api.js';
import { lineChart } from '../charts.js';

const active = state => state === 'running' || state === 'retrying';
const stages = ['loading', 'searching', 'refitting', 'exporting', 'quantizing', 'comparing', 'publishing', 'reporting', 'done'];

export async function list(page) {
  const { runs } = await api.runs();
  const holder = h('div', runsTable(runs));
  page.poll(async () => {
    const fresh = await api.runs();
    holder.replaceChildren(runsTable(fresh.runs));
    return true;
  }, 3000);
  return h('div',
    pageHeader('Training runs', 'The latest run of every model, refreshed every few seconds. A run is started by every accepted dataset version.'),
    card(null, holder));
}

function runsTable(runs) {
  return table([
    { label: 'Model', value: r => h('strong', r.model) },
    { label: 'State', value: r => badge(r.state) },
    { label: 'Stage', value: r => r.stage || '–' },
    { label: 'Trial', value: r => r.trials ? `${r.trial} / ${r.trials}` : '–', class: 'num' },
    { label: 'Epoch', value: r => r.maxEpochs ? `${r.epoch} / ${r.maxEpochs}` : '–', class: 'num' },
    { label: 'Best val. loss', value: r => number(r.bestValidationLoss, 4), class: 'num' },
    { label: 'Updated', value: r => when(r.updatedAt) },
    { label: 'Result', value: r => r.modelVersion ? h('span', shortVersion(r.modelVersion), ' ', r.promoted ? badge('promoted') : badge('not promoted', 'neutral')) : r.error ? h('span.error-text', r.error) : '–' },
  ], runs, { rowLink: r => `#/runs/${encodeURIComponent(r.runId)}`, empty: 'No training runs yet. Upload a dataset: its accepted version starts one.' });
}

export async function detail(page, id) {
  let run = await api.run(id);
  const body = h('div.run-body', runBody(run));
  const root = h('div',
    breadcrumbs({ label: 'Runs', href: '#/runs' }, { label: id }),
    pageHeader(`Run of ${run.model}`, `Dataset ${run.dataset}, version ${run.datasetVersion.slice(0, 12)}. Attempt ${run.attempt}${run.resumed ? ' (resumed from a checkpoint)' : ''}.`),
    body);
  page.poll(async () => {
    if (!active(run.state)) return false;
    run = await api.run(id);
    body.replaceChildren(runBody(run));
    return active(run.state);
  }, 2000);
  return root;
}

function runBody(run) {
  const stageIndex = Math.max(0, stages.indexOf(run.stage));
  const losses = run.losses ?? [];
  return h('div',
    h('div.run-state', badge(run.state), active(run.state) ? h('span.live', { title: 'Refreshed every 2 s' }, h('span.live-dot'), 'live') : null),
    h('ol.stages', { 'aria-label': 'Stages' }, stages.map((stage, i) =>
      h(`li.${i < stageIndex || run.stage === 'done' ? 'done' : i === stageIndex ? (run.state === 'failed' ? 'failed' : 'now') : 'todo'}`, stage))),
    run.error ? notice(run.error, 'error') : null,
    h('div.stats',
      stat('Trial', run.trials ? `${run.trial} / ${run.trials}` : '–', run.trialParameters),
      stat('Epoch', run.maxEpochs ? `${run.epoch} / ${run.maxEpochs}` : '–', run.maxEpochs ? meter(run.epoch / run.maxEpochs) : null),
      stat('Best validation loss', number(run.bestValidationLoss, 4)),
      stat('Elapsed', duration(run.elapsedSeconds), run.device ? `on ${run.device}` : null),
      stat('ETA', run.etaSeconds !== undefined && run.etaSeconds !== null ? duration(run.etaSeconds) : '–'),
      stat('Updated', when(run.updatedAt))),
    card(`Loss, trial ${run.trial || '–'}`, losses.length
      ? lineChart([
        { name: 'train', tone: 'train', points: losses.map(p => ({ x: p.epoch, y: p.train })) },
        { name: 'validation', tone: 'validation', points: losses.map(p => ({ x: p.epoch, y: p.validation })) },
      ], { xLabel: 'epoch', yLabel: 'loss', title: `Loss per epoch, trial ${run.trial}` })
      : h('p.empty', active(run.state) ? 'The first epoch has not finished yet.' : 'This run recorded no loss curve (gradient-boosted trees, or a run written before curves were kept).')),
    run.modelVersion ? card('Result',
      h('p', 'Published ', h('a', { href: `#/models/${encodeURIComponent(run.model)}/versions/${encodeURIComponent(run.modelVersion)}` }, shortVersion(run.modelVersion)),
        ' — ', run.promoted ? badge('promoted') : badge('not promoted', 'neutral'), run.promotionReason ? ` ${run.promotionReason}` : '')) : null);
}
