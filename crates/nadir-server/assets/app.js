// The nadir page: scores records through the service's JSON API, shows the loaded models and
// the report. Plain JavaScript with no build step, so the binary can embed it as it is and the
// page works without network access beyond the nadir server itself.

/** Records per request. Large files are cut into batches this size and posted one after the
 * other, which drives the progress bar and keeps every request far below the body limit;
 * each batch's record indices are offset back to the file's rows. */
const BATCH_RECORDS = 1000;
/** Result rows shown per table page (the download holds them all). */
const PAGE_ROWS = 100;
/** Bad fields listed before the list is cut short. */
const MAX_LISTED_ERRORS = 200;
/** Histogram bins over the score range. */
const BINS = 20;
/** Features a row's "Why?" shows: the record's strongest, as the server ranks them. */
const EXPLAIN_FEATURES = 5;

/** A real normal connection from the NSL-KDD training data (an HTTP request over TCP), in the
 * file order of the features: the form's starting values when the models score NSL-KDD
 * records with all 41 features. Other schemas start from 0 and each category's first value. */
const TYPICAL_NORMAL_ROW =
  '0,tcp,http,SF,225,3762,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,10,10,0.0,0.0,0.0,0.0,1.0,0.0,0.0,255,255,1.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0';

/** The form's groups for NSL-KDD, the usual division of the KDD features, each named by its
 * first feature; names another schema lacks never start a group. */
const FIELD_GROUPS = [
  { first: 'duration', title: 'Basic connection' },
  { first: 'hot', title: 'Content of the connection' },
  { first: 'count', title: 'Traffic: same host or service, last 2 seconds' },
  { first: 'dsthostcount', title: 'Traffic: same destination host, last 100 connections' },
];

const KIND_HINTS = { count: 'count ≥ 0', indicator: '0 or 1', rate: '0 to 1', continuous: 'number', categorical: 'category' };

const state = {
  models: [],
  /** The model the API scores with by default (`GET /v1/models`: `default_model`). */
  defaultModel: null,
  /** The schema of the records the loaded models score (`GET /v1/models`), null when none is loaded. */
  schema: null,
  features: [],
  results: [],
  /** The columns of `nadir predict` for the scored model, as `GET /v1/models` gives them. */
  columns: [],
  /** The key of the score in the scored model's results (`GET /v1/models`: `score_field`). */
  scoreName: 'probability',
  scoredModel: '',
  /** The header line of the scored CSV text (null when it had none): a row's "Why?" sends it
   * with that row's record. */
  csvHeader: null,
  page: 0,
  cancel: null,
};

const $ = (id) => document.getElementById(id);
const capitalised = (text) => text.charAt(0).toUpperCase() + text.slice(1);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

const normaliseName = (name) => name.toLowerCase().replace(/[_\s]/g, '');
/** A count as every number on the page is written: grouped by thousands (58,639). */
const count = (n) => n.toLocaleString('en');
const plural = (n, one, many = `${one}s`) => `${count(n)} ${n === 1 ? one : many}`;

/** A score, threshold or metric with a fixed number of decimals, so columns line up. */
function fixed(value, digits = 4) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return value === null || value === undefined ? '–' : String(value);
  return value.toFixed(digits);
}

// ---------------------------------------------------------------- tabs

/** Wires a WAI-ARIA tab list: click or arrow keys select a tab and show its panel. */
function setupTabs(tablist, onSelect) {
  const tabs = [...tablist.querySelectorAll('[role="tab"]')];
  const select = (tab, focus) => {
    for (const t of tabs) {
      const selected = t === tab;
      t.setAttribute('aria-selected', String(selected));
      t.tabIndex = selected ? 0 : -1;
      $(t.getAttribute('aria-controls')).hidden = !selected;
    }
    if (focus) tab.focus();
    if (onSelect) onSelect(tab);
  };
  for (const tab of tabs) {
    tab.addEventListener('click', () => select(tab, false));
    tab.addEventListener('keydown', (event) => {
      const i = tabs.indexOf(tab);
      const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
      if (next === undefined) return;
      event.preventDefault();
      select(tabs[(next + tabs.length) % tabs.length], true);
    });
  }
  return (id) => select($(id), false);
}

// ---------------------------------------------------------------- API

/** An API failure, carrying the HTTP status and the JSON error body. */
class ApiError extends Error {
  constructor(status, body) {
    super(body && typeof body.error === 'string' ? body.error : `the server answered ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, { error: 'the nadir server cannot be reached; is `nadir serve` still running?' });
  }
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { error: text.trim().slice(0, 300) || response.statusText };
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

function predictPath(model, onError, explain) {
  const params = new URLSearchParams();
  if (onError) params.set('on_error', onError);
  if (explain) params.set('explain', explain);
  const query = params.toString() ? `?${params}` : '';
  return `/v1/models/${encodeURIComponent(model)}/predict${query}`;
}

/** An API error as a sentence for someone who is not reading the HTTP specification. */
function plainError(error, what) {
  if (!(error instanceof ApiError)) return `Something went wrong in the page: ${error.message}`;
  const detail = error.message;
  switch (error.status) {
    case 0: return `The nadir server cannot be reached. Is \`nadir serve\` still running? Reload the page once it is.`;
    case 400: return `The ${what} could not be read: ${detail}.`;
    case 404: return `The model is not loaded on the server any more (${detail}). Reload the page to see the loaded models.`;
    case 413: return `The ${what} is larger than the server accepts in one request (${detail}). Split it into smaller parts.`;
    case 415: return `The server does not accept this kind of data (${detail}); it takes CSV, JSON or NDJSON records.`;
    case 422: return `Some values are not valid: ${detail}.`;
    default: return `The server failed (HTTP ${error.status}): ${detail}.`;
  }
}

/** The bad records of one answer the server counted but did not list (it lists the first
 * problems of a body and counts all of them), as a sentence; '' when it listed them all. */
function unlistedText(counts) {
  if (!counts || !counts.unlisted_records) return '';
  const fields = Object.entries(counts.by_field || {}).sort((a, b) => b[1] - a[1]);
  const named = fields.slice(0, 5).map(([field, n]) => `${field} ${count(n)}`);
  if (fields.length > 5) named.push(plural(fields.length - 5, 'more field'));
  return `${plural(counts.unlisted_records, 'more record')} with problems, not listed one by one` +
    (named.length ? `; bad values by field in these lines: ${named.join(', ')}` : '');
}

/** One bad field as a sentence: what was given and why it is refused, after where it is
 * (`where` is left out when the table row already says it). */
function fieldErrorText(e, where) {
  const value = e.value !== undefined && e.value !== null && e.value !== ''
    ? `value "${e.value}" — ` : '';
  const what = `${value}${e.message || 'not valid'}`;
  if (!e.field) return where ? `${where}: ${what}` : what;
  return `${where ? `${where}, ` : ''}field ${e.field}: ${what}`;
}

// ---------------------------------------------------------------- models

function describeModel(model) {
  const what = model.detector ? 'anomaly detector' : 'classifier';
  return `${model.kind}, ${what} (${model.score_description}); attack when it is at least ${fixed(model.threshold)}.`;
}

function currentModel() {
  return state.models.find((m) => m.name === $('model').value);
}

function fillModelChoice() {
  const select = $('model');
  select.replaceChildren(...state.models.map((m) => el('option', { value: m.name, text: m.name })));
  select.disabled = state.models.length === 0;
  if (state.models.length === 0) {
    select.append(el('option', { text: 'No models loaded' }));
    $('model-about').textContent = 'Start the server with `nadir serve --models DIR` on a directory of .nadir files.';
    return;
  }
  // Start with the model the API scores with by default, when it is loaded.
  if (state.models.some((m) => m.name === state.defaultModel)) select.value = state.defaultModel;
  const showAbout = () => { $('model-about').textContent = describeModel(currentModel()); };
  select.addEventListener('change', showAbout);
  showAbout();
}

const METRIC_NAMES = [['accuracy', 'Accuracy'], ['precision', 'Precision'], ['recall', 'Recall'], ['f1', 'F1'], ['roc_auc', 'ROC-AUC']];

function meanAndSd(values) {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(values.length - 1, 1));
  return { mean, sd };
}

/** The saved training metrics as a table: held-out test part and cross-validation mean ± sd. */
function metricsTable(metrics) {
  const holdout = metrics && metrics.holdout;
  const folds = (metrics && Array.isArray(metrics.cross_validation)) ? metrics.cross_validation : [];
  if (!holdout && folds.length === 0) return el('p', { class: 'hint', text: 'No training metrics saved with this model.' });
  const head = el('tr', {}, el('th', { scope: 'col', text: 'Metric' }));
  if (holdout) head.append(el('th', { scope: 'col', text: 'Held-out test' }));
  if (folds.length) head.append(el('th', { scope: 'col', text: `Cross-validation (${folds.length} folds)` }));
  const body = el('tbody');
  for (const [key, label] of METRIC_NAMES) {
    const row = el('tr', {}, el('th', { scope: 'row', text: label }));
    if (holdout) row.append(el('td', { class: 'num', text: fixed(holdout[key]) }));
    if (folds.length) {
      const values = folds.map((f) => f[key]).filter((v) => typeof v === 'number');
      const { mean, sd } = values.length ? meanAndSd(values) : {};
      row.append(el('td', { class: 'num', text: values.length ? `${fixed(mean)} ± ${fixed(sd)}` : '–' }));
    }
    body.append(row);
  }
  const table = el('table', {}, el('thead', {}, head), body);
  if (holdout && holdout.confusion) {
    const c = holdout.confusion;
    return el('div', {}, table, el('p', { class: 'hint', text:
      `Held-out confusion: ${plural(c.tp, 'attack')} caught, ${plural(c.fn, 'attack')} missed, ` +
      `${plural(c.fp, 'false alarm')}, ${plural(c.tn, 'normal record')} passed.` }));
  }
  return table;
}

function renderModelCards() {
  const cards = state.models.map((m) => {
    const t = m.training || {};
    const facts = [
      ['Kind', `${m.kind}${m.detector ? ' (anomaly detector)' : ' (classifier)'}`],
      ['Threshold', `${fixed(m.threshold)}${m.threshold_rule ? ` — ${m.threshold_rule}` : ''}`],
      ['Trained on', `${t.source ?? '–'} (${t.rows !== undefined ? plural(t.rows, 'row') : '? rows'}, seed ${t.seed ?? '–'})`],
      ['Data sha256', t.data_sha256 ?? '–'],
      ['nadir version', m.nadir_version ?? '–'],
    ];
    const dl = el('dl', {}, facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { class: k === 'Data sha256' ? 'mono' : undefined, text: v })]));
    return el('article', { class: 'model-card', 'aria-labelledby': `model-${m.name}` },
      el('h3', { id: `model-${m.name}`, text: m.name }),
      m.describe ? el('p', { class: 'describe', text: m.describe }) : null,
      dl,
      el('h4', { text: 'Training metrics' }),
      metricsTable(m.metrics));
  });
  $('model-cards').replaceChildren(...(cards.length ? cards : [el('p', { text: 'No models are loaded.' })]));
}

// ---------------------------------------------------------------- the one-record form

/** Whether the models score NSL-KDD records with all of its features, in file order. */
function isFullNslKdd() {
  return Boolean(state.schema) && state.schema.name === 'nsl-kdd' && state.features.length === TYPICAL_NORMAL_ROW.split(',').length;
}

/** The form's starting values, one per feature in file order. */
function formDefaults() {
  if (isFullNslKdd()) return TYPICAL_NORMAL_ROW.split(',');
  return state.features.map((f) => (String(f.kind).toLowerCase() === 'categorical'
    ? (Array.isArray(f.values) && f.values.length ? f.values[0] : '')
    : '0'));
}

/** The page's words about the schema: its name, the CSV layout it takes, the form's values. */
function describeSchema() {
  const schema = state.schema;
  if (!schema) {
    $('schema-about').hidden = true;
    return;
  }
  $('schema-name').textContent = schema.title || schema.name;
  const others = (schema.other_columns || []);
  const ignored = others.length ? ` Other columns (${others.join(', ')}, or your own) are ignored.` : '';
  $('csv-hint').textContent = `Records of schema ${schema.title || schema.name}: ${plural(state.features.length, 'feature column')} ` +
    `with a header row naming them (any column order)${schema.headerless ? ', or without a header in file order' : ''}.${ignored}`;
  if (!isFullNslKdd()) {
    const cut = (line) => (line.length > 60 ? `${line.slice(0, 60)}…` : line);
    const example = cut(formDefaults().join(','));
    $('csv-text').placeholder = schema.headerless
      ? `One record a line, e.g. ${example}`
      : `A header line naming the columns, then one record a line, e.g.\n${cut(state.features.map((f) => f.name).join(','))}\n${example}`;
  }
  $('form-hint').textContent = isFullNslKdd()
    ? 'Prefilled with a typical normal connection taken from the NSL-KDD data (an HTTP request over TCP). Change any value and score it.'
    : 'Prefilled with 0 for every number and the first known value of every category. Change any value and score it.';
}

function buildForm() {
  const defaults = formDefaults();
  const container = $('record-fields');
  const groupStarts = new Map(FIELD_GROUPS.map((g) => [g.first, g.title]));
  let fieldset = null;
  state.features.forEach((feature, i) => {
    if (groupStarts.has(feature.name) || fieldset === null) {
      fieldset = el('fieldset', {}, el('legend', { text: groupStarts.get(feature.name) || 'Features' }));
      container.append(fieldset);
    }
    const kind = String(feature.kind || '').toLowerCase();
    const id = `f-${feature.name}`;
    const categorical = kind === 'categorical';
    const input = el('input', {
      type: 'text', id, name: feature.name, value: defaults[i] ?? '',
      inputmode: categorical ? undefined : 'decimal', autocomplete: 'off', spellcheck: 'false',
      'aria-describedby': `err-${feature.name}`, 'data-kind': kind,
    });
    input.defaultValue = defaults[i] ?? '';
    const field = el('div', { class: 'field' },
      el('label', { for: id }, feature.name, el('span', { class: 'kind', text: KIND_HINTS[kind] || kind })),
      input,
      el('p', { class: 'field-error', id: `err-${feature.name}`, hidden: true }));
    if (Array.isArray(feature.values) && feature.values.length) {
      const list = el('datalist', { id: `values-${feature.name}` }, feature.values.map((v) => el('option', { value: v })));
      input.setAttribute('list', list.id);
      field.append(list);
    }
    fieldset.append(field);
  });
}

function clearFieldErrors() {
  for (const input of $('record-fields').querySelectorAll('input')) {
    input.removeAttribute('aria-invalid');
    const message = $(`err-${input.name}`);
    message.hidden = true;
    message.textContent = '';
  }
  $('record-error').hidden = true;
}

function formRecord() {
  const record = {};
  for (const input of $('record-fields').querySelectorAll('input')) {
    const text = input.value.trim();
    if (text === '') continue;
    if (input.dataset.kind === 'categorical') record[input.name] = text;
    else record[input.name] = Number.isFinite(Number(text)) ? Number(text) : text;
  }
  return record;
}

const KNOWN_RESULT_KEYS = new Set(['index', 'prediction', 'threshold', 'model', 'warnings']);

function renderVerdict(result, model) {
  const value = result[model.score_field];
  const extras = Object.entries(result).filter(([k]) => !KNOWN_RESULT_KEYS.has(k) && k !== model.score_field);
  const box = el('div', { class: 'box' },
    el('p', {}, 'Prediction: ', el('span', { class: `badge ${result.prediction}`, text: result.prediction }),
      ` — ${model.score_description} ${fixed(value)} (attack at ≥ ${fixed(result.threshold)}, model ${result.model}).`),
    extras.length ? el('p', { text: extras.map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join('; ') }) : null,
    (result.warnings || []).length ? el('p', { text: `Warnings: ${result.warnings.join('; ')}` }) : null);
  $('record-result').replaceChildren(box);
}

async function scoreForm(event) {
  event.preventDefault();
  clearFieldErrors();
  $('record-result').replaceChildren();
  const model = currentModel();
  if (!model) return;
  const button = $('record-submit');
  button.disabled = true;
  try {
    const result = await api(predictPath(model.name), {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(formRecord()),
    });
    renderVerdict(result, model);
  } catch (error) {
    const fieldErrors = error instanceof ApiError ? (error.body.errors || []) : [];
    let first = null;
    const unplaced = [];
    for (const e of fieldErrors) {
      const input = e.field ? $(`f-${e.field}`) : null;
      if (!input) { unplaced.push(fieldErrorText(e, 'This record')); continue; }
      input.setAttribute('aria-invalid', 'true');
      const message = $(`err-${e.field}`);
      const value = e.value !== undefined && e.value !== '' ? `"${e.value}": ` : '';
      message.textContent = `${value}${e.message || 'not valid'}`;
      message.hidden = false;
      first = first || input;
    }
    const box = $('record-error');
    box.replaceChildren(el('p', { text: fieldErrors.length
      ? `The record was not scored: ${plural(fieldErrors.length, 'value')} ${fieldErrors.length === 1 ? 'is' : 'are'} not valid (marked in the form).`
      : plainError(error, 'record') }));
    if (unplaced.length) box.append(el('ul', {}, unplaced.map((t) => el('li', { text: t }))));
    box.hidden = false;
    if (first) first.focus();
  } finally {
    button.disabled = false;
  }
}

function resetForm() {
  $('record-form').reset();
  clearFieldErrors();
  $('record-result').replaceChildren();
}

// ---------------------------------------------------------------- CSV scoring

/** Splits CSV text into records (non-blank lines, with their 1-based line numbers) and the
 * header line, if the first line names any schema column. */
function splitCsv(text) {
  const lines = text.split(/\r\n|\n|\r/);
  const records = [];
  lines.forEach((line, i) => { if (line.trim() !== '') records.push({ line: i + 1, text: line }); });
  const others = state.schema ? (state.schema.other_columns || []) : [];
  const known = new Set([...state.features, ...others.map((name) => ({ name }))].map((f) => normaliseName(f.name)));
  let header = null;
  if (records.length && records[0].text.split(',').some((field) => known.has(normaliseName(field)))) {
    header = records.shift();
  }
  return { header, records };
}

/** The 1-based line of the user's file that a line of a batch's request body came from. */
function fileLine(batch, header, bodyLine) {
  if (header && bodyLine === 1) return header.line;
  const record = batch[bodyLine - (header ? 2 : 1)];
  return record ? record.line : undefined;
}

/** The error with the line numbers of its message (lines of one batch's body) turned into
 * lines of the user's file, or the batch's lines added when the message names none. */
function inFileTerms(error, batch, header) {
  if (!(error instanceof ApiError) || error.status !== 400) return error;
  let named = false;
  error.message = error.message
    .replace(/^malformed (csv|json|ndjson): (body: )?/i, '')
    .replace(/\bline (\d+)\b/g, (match, n) => {
      const line = fileLine(batch, header, Number(n));
      named = named || line !== undefined;
      return line === undefined ? match : `line ${line}`;
    });
  if (!named) error.message += ` (somewhere in lines ${batch[0].line}–${batch[batch.length - 1].line})`;
  return error;
}

function setProgress(done, total, batches, batch) {
  $('progress').max = total;
  $('progress').value = done;
  $('progress-label').textContent =
    `Scored ${count(done)} of ${plural(total, 'record')} (batch ${batch} of ${batches})`;
}

function showCsvErrors(intro, items, total = items.length) {
  const box = $('csv-errors');
  const children = [el('p', { text: intro })];
  if (items.length) {
    children.push(el('ul', {}, items.slice(0, MAX_LISTED_ERRORS).map((t) => el('li', { text: t }))));
    if (total > MAX_LISTED_ERRORS) children.push(el('p', { text: `…and ${plural(total - MAX_LISTED_ERRORS, 'more problem')}.` }));
  }
  box.replaceChildren(...children);
  box.hidden = false;
}

async function csvText() {
  const file = $('csv-file').files[0];
  if (file) return { text: await file.text(), what: `file ${file.name}` };
  return { text: $('csv-text').value, what: 'pasted records' };
}

async function scoreCsv(event) {
  event.preventDefault();
  const model = currentModel();
  if (!model) return;
  $('csv-errors').hidden = true;
  const { text, what } = await csvText();
  const { header, records } = splitCsv(text);
  if (records.length === 0) {
    showCsvErrors(text.trim() === '' ? 'Choose a CSV file or paste records first.' : `The ${what} holds a header but no records.`, []);
    return;
  }
  const skip = $('skip-bad').checked;
  const batches = Math.ceil(records.length / BATCH_RECORDS);
  const controller = new AbortController();
  state.cancel = controller;
  const results = [];
  const problems = [];
  let rejectedRecords = 0;
  let failure = null;
  setBusy(true);
  setProgress(0, records.length, batches, 1);
  try {
    for (let b = 0; b < batches && !failure; b++) {
      const offset = b * BATCH_RECORDS;
      const batch = records.slice(offset, offset + BATCH_RECORDS);
      const body = (header ? `${header.text}\n` : '') + batch.map((r) => r.text).join('\n') + '\n';
      const where = (e) => {
        const record = e.index !== undefined ? batch[e.index] : undefined;
        const line = record ? record.line : (e.line !== undefined ? fileLine(batch, header, e.line) : undefined);
        return { row: e.index !== undefined ? offset + e.index + 1 : undefined, line };
      };
      const place = ({ row, line }) => (line !== undefined ? `Line ${line}` : row !== undefined ? `Row ${row}` : 'A record');
      try {
        const answer = await api(predictPath(model.name, skip ? 'skip' : 'reject'), {
          method: 'POST', headers: { 'content-type': 'text/csv' }, body, signal: controller.signal,
        });
        for (const r of answer.results || []) {
          const { row, line } = where(r);
          results.push({ ...r, row, line, text: batch[r.index].text });
        }
        const byRecord = new Map();
        for (const e of answer.errors || []) {
          const key = e.index ?? `line${e.line}`;
          if (!byRecord.has(key)) byRecord.set(key, { ...where(e), messages: [] });
          byRecord.get(key).messages.push(fieldErrorText(e));
        }
        for (const rejected of byRecord.values()) {
          results.push({ row: rejected.row, line: rejected.line, prediction: 'rejected', warnings: rejected.messages });
        }
        // The records the server counted as bad without listing them are the batch's rows
        // neither scored nor listed.
        const unlisted = unlistedText(answer.error_counts);
        if (unlisted) {
          const seen = new Set([...(answer.results || []), ...(answer.errors || [])].map((r) => r.index));
          batch.forEach((record, index) => {
            if (seen.has(index)) return;
            results.push({ row: offset + index + 1, line: record.line, prediction: 'rejected',
              warnings: ['not valid; the server lists the first problems of each batch and counts the rest'] });
          });
        }
        rejectedRecords += answer.error_counts ? answer.error_counts.records : byRecord.size;
      } catch (error) {
        if (error.name === 'AbortError') { failure = 'Stopped: the records scored so far are shown.'; break; }
        if (error.status === 422 && Array.isArray(error.body.errors)) {
          for (const e of error.body.errors) problems.push(fieldErrorText(e, place(where(e))));
          const unlisted = unlistedText(error.body.error_counts);
          if (unlisted) problems.push(`Lines ${batch[0].line}–${batch[batch.length - 1].line}: ${unlisted}.`);
          rejectedRecords += error.body.error_counts
            ? error.body.error_counts.records
            : new Set(error.body.errors.map((e) => e.index ?? e.line)).size;
        } else {
          failure = plainError(inFileTerms(error, batch, header), what);
        }
      }
      setProgress(Math.min(offset + batch.length, records.length), records.length, batches, Math.min(b + 2, batches));
    }
  } finally {
    setBusy(false);
    state.cancel = null;
  }
  const sent = Number($('progress').value);
  $('progress-label').textContent = sent < records.length
    ? `Stopped after ${count(sent)} of ${plural(records.length, 'record')}.`
    : `Sent ${plural(records.length, 'record')} in ${plural(batches, 'batch', 'batches')} of up to ${count(BATCH_RECORDS)}.`;
  if (problems.length) {
    showCsvErrors(
      `Nothing was scored: ${plural(rejectedRecords, 'record')} of the ${what} ${rejectedRecords === 1 ? 'has' : 'have'} values that are not valid. ` +
      'Fix them, or tick “Skip bad records and score the rest”.', problems);
    $('results').hidden = true;
    $('csv-errors').focus();
    return;
  }
  if (failure) {
    showCsvErrors(failure, []);
    if (results.length === 0) { $('results').hidden = true; return; }
  }
  state.csvHeader = header ? header.text : null;
  showResults(results, model);
}

function setBusy(busy) {
  if (busy) $('progress-box').hidden = false;
  $('csv-submit').disabled = busy;
  $('csv-cancel').hidden = !busy;
  $('model').disabled = busy;
}

// ---------------------------------------------------------------- results

function showResults(results, model) {
  results.sort((a, b) => (a.row ?? 0) - (b.row ?? 0));
  state.results = results;
  // The columns of `nadir predict` and the score's key, as the server names them.
  state.columns = model.columns;
  state.scoreName = model.score_field;
  state.scoredModel = model.name;
  state.page = 0;
  $('filter').value = 'all';
  $('score-head').textContent = capitalised(model.score_description);
  $('results-title').textContent = `Results of ${model.name}`;
  $('results').hidden = false;
  renderSummary(model);
  renderHistogram(model);
  renderTable();
}

const scoreOf = (r) => r[state.scoreName];

function renderSummary(model) {
  const scored = state.results.filter((r) => r.prediction !== 'rejected');
  const attacks = scored.filter((r) => r.prediction === 'attack').length;
  const rejected = state.results.length - scored.length;
  const warned = scored.filter((r) => (r.warnings || []).length).length;
  const stat = (cls, n, label) => el('div', { class: `stat ${cls}` }, el('b', { text: count(n) }), label);
  $('summary').replaceChildren(
    el('p', { class: 'visually-hidden', text:
      `Scored ${plural(scored.length, 'record')} with ${model.name}: ${plural(attacks, 'attack')}, ` +
      `${count(scored.length - attacks)} normal, ${count(rejected)} rejected.` }),
    stat('', state.results.length, 'records'),
    stat('normal', scored.length - attacks, 'normal'),
    stat('attack', attacks, 'attacks'),
    stat('rejected', rejected, 'rejected'),
    stat('', warned, 'with warnings'));
}

/** Draws the scores' histogram as inline SVG, bars stacked by prediction, with the threshold. */
function renderHistogram(model) {
  const scored = state.results.filter((r) => typeof scoreOf(r) === 'number');
  const values = scored.map(scoreOf);
  const box = $('histogram');
  if (values.length === 0) { box.replaceChildren(); $('histogram-caption').textContent = ''; return; }
  // A loop, not Math.min(...values): spreading 100,000 arguments overflows the call stack.
  let lo = model.threshold;
  let hi = model.threshold;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo >= 0 && hi <= 1) { lo = 0; hi = 1; }
  if (hi === lo) hi = lo + 1;
  const normal = new Array(BINS).fill(0);
  const attack = new Array(BINS).fill(0);
  for (const r of scored) {
    const bin = Math.min(BINS - 1, Math.floor(((scoreOf(r) - lo) / (hi - lo)) * BINS));
    (r.prediction === 'attack' ? attack : normal)[bin]++;
  }
  const maxCount = Math.max(...normal.map((n, i) => n + attack[i]));
  const W = 720, H = 230, left = 52, right = 12, top = 24, bottom = 40;
  const plotW = W - left - right, plotH = H - top - bottom;
  const x = (v) => left + ((v - lo) / (hi - lo)) * plotW;
  const y = (n) => top + plotH - (n / maxCount) * plotH;
  const label = capitalised(model.score_description);
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': 'histogram-title' });
  chart.append(svg('title', { id: 'histogram-title' },
    `Histogram of ${plural(values.length, 'score')}: ${plural(attack.reduce((a, b) => a + b, 0), 'attack')}, ${count(normal.reduce((a, b) => a + b, 0))} normal`));
  const barW = plotW / BINS;
  for (let i = 0; i < BINS; i++) {
    const x0 = left + i * barW + 1;
    const hNormal = normal[i] ? Math.max(1, (normal[i] / maxCount) * plotH) : 0;
    const hAttack = attack[i] ? Math.max(1, (attack[i] / maxCount) * plotH) : 0;
    const binLo = lo + (i * (hi - lo)) / BINS;
    const binHi = lo + ((i + 1) * (hi - lo)) / BINS;
    const tip = `${fixed(binLo, 2)}–${fixed(binHi, 2)}: ${count(normal[i])} normal, ${plural(attack[i], 'attack')}`;
    const bar = (cls, y0, height) => {
      const rect = svg('rect', { class: cls, x: x0, y: y0, width: barW - 2, height });
      rect.append(svg('title', {}, tip));
      chart.append(rect);
    };
    if (hNormal) bar('bar-normal', top + plotH - hNormal, hNormal);
    if (hAttack) bar('bar-attack', top + plotH - hNormal - hAttack, hAttack);
  }
  chart.append(svg('line', { class: 'axis', x1: left, y1: top + plotH, x2: left + plotW, y2: top + plotH }));
  chart.append(svg('line', { class: 'axis', x1: left, y1: top, x2: left, y2: top + plotH }));
  for (let t = 0; t <= 4; t++) {
    const v = lo + (t * (hi - lo)) / 4;
    chart.append(svg('text', { x: x(v), y: top + plotH + 15, 'text-anchor': 'middle' }, fixed(v, 2)));
  }
  for (const n of [0, Math.round(maxCount / 2), maxCount]) {
    chart.append(svg('text', { x: left - 6, y: y(n) + 4, 'text-anchor': 'end' }, count(n)));
  }
  chart.append(svg('text', { x: left + plotW / 2, y: H - 6, 'text-anchor': 'middle' }, label));
  const tx = x(model.threshold);
  chart.append(svg('line', { class: 'threshold', x1: tx, y1: top, x2: tx, y2: top + plotH }));
  const labelX = Math.min(Math.max(tx, left + 45), left + plotW - 45);
  chart.append(svg('text', { x: labelX, y: top - 8, 'text-anchor': 'middle' }, `threshold ${fixed(model.threshold, 3)}`));
  box.replaceChildren(chart);
  $('histogram-caption').replaceChildren(
    el('span', { class: 'swatch normal', 'aria-hidden': 'true' }), ' normal ',
    el('span', { class: 'swatch attack', 'aria-hidden': 'true' }), ' attack — ',
    `${label} of the ${plural(values.length, 'scored record')} in ${BINS} bins, bars stacked by prediction; ` +
    `the dashed line is the model's threshold (${fixed(model.threshold)}).`);
}

function filteredResults() {
  const filter = $('filter').value;
  if (filter === 'all') return state.results;
  if (filter === 'warnings') return state.results.filter((r) => r.prediction !== 'rejected' && (r.warnings || []).length);
  return state.results.filter((r) => r.prediction === filter);
}

function renderTable() {
  const rows = filteredResults();
  const pages = Math.max(1, Math.ceil(rows.length / PAGE_ROWS));
  state.page = Math.min(state.page, pages - 1);
  const shown = rows.slice(state.page * PAGE_ROWS, (state.page + 1) * PAGE_ROWS);
  $('results-table').tBodies[0].replaceChildren(...shown.map((r) => el('tr', { class: r.prediction === 'rejected' ? 'rejected' : undefined },
    el('td', { class: 'num', text: r.row ?? '–' }),
    el('td', { class: 'num', text: r.line ?? '–' }),
    el('td', {}, el('span', { class: `badge ${r.prediction}`, text: r.prediction })),
    el('td', { class: 'num', text: r.prediction === 'rejected' ? '–' : fixed(scoreOf(r)) }),
    el('td', { text: r.family ? `${r.family} (${fixed(r.family_probability)})` : '–' }),
    el('td', { class: r.prediction === 'rejected' ? 'msg' : undefined, text: (r.warnings || []).join('; ') }),
    el('td', {}, r.text === undefined ? null : whyButton(r)))).flatMap((tr, i) => {
    const why = shown[i].why;
    return why && why.open ? [tr, el('tr', { class: 'why-row' }, el('td', { colspan: 7 }, explanationView(shown[i], why)))] : [tr];
  }));
  const first = rows.length ? state.page * PAGE_ROWS + 1 : 0;
  $('page-info').textContent = `Rows ${count(first)}–${count(state.page * PAGE_ROWS + shown.length)} of ${count(rows.length)} shown (page ${state.page + 1} of ${pages})`;
  $('page-prev').disabled = state.page === 0;
  $('page-next').disabled = state.page >= pages - 1;
}

// ---------------------------------------------------------------- why

function whyButton(r) {
  const button = el('button', { type: 'button', class: 'why', 'aria-expanded': String(Boolean(r.why && r.why.open)),
    'aria-label': `Why row ${r.row} is ${r.prediction}` }, 'Why?');
  button.addEventListener('click', () => explainRow(r));
  return button;
}

/** Shows or hides a row's explanation; the first time, asks the server for it: that record
 * alone (with the file's header, if any) with `explain`. */
async function explainRow(r) {
  if (r.why && !r.why.loading) {
    r.why.open = !r.why.open;
    renderTable();
    return;
  }
  r.why = { open: true, loading: true };
  renderTable();
  const body = (state.csvHeader ? `${state.csvHeader}\n` : '') + `${r.text}\n`;
  try {
    const answer = await api(predictPath(state.scoredModel, null, EXPLAIN_FEATURES), {
      method: 'POST', headers: { 'content-type': 'text/csv' }, body,
    });
    const result = (answer.results || [])[0];
    r.why = result && result.explanation
      ? { open: true, explanation: result.explanation }
      : { open: true, error: 'The server did not explain this record.' };
  } catch (error) {
    r.why = { open: true, error: error instanceof ApiError && error.status === 422
      ? `This model's predictions cannot be explained: ${error.message}.` : plainError(error, 'record') };
  }
  renderTable();
}

/** A contribution with its sign always written: +0.1234 towards attack, −0.1234 away. */
function signed(value) {
  return `${value > 0 ? '+' : value < 0 ? '−' : ''}${fixed(Math.abs(value))}`;
}

/** A row's explanation as the server gave it: the base value and the strongest features
 * (value, typical value, signed contribution drawn as a bar from the middle). */
function explanationView(r, why) {
  if (why.loading) return el('p', { role: 'status', text: `Explaining row ${r.row}…` });
  if (why.error) return el('p', { class: 'why-error', role: 'status', text: why.error });
  const e = why.explanation;
  const space = e.space === 'log_odds' ? 'log-odds of attack' : 'probability of attack';
  let largest = 0;
  for (const f of e.features) largest = Math.max(largest, Math.abs(f.contribution));
  // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
  const bar = (c) => {
    const width = largest > 0 ? (Math.abs(c) / largest) * 50 : 0;
    const fill = el('span', { class: c >= 0 ? 'towards' : 'away' });
    fill.style.left = `${c >= 0 ? 50 : 50 - width}%`;
    fill.style.width = `${width}%`;
    return el('span', { class: 'why-bar', 'aria-hidden': 'true' }, fill);
  };
  return el('div', { class: 'why-box', role: 'status' },
    el('p', { text: `Why row ${r.row} is ${r.prediction}: the ${plural(e.features.length, 'feature')} that moved its ` +
      `${space} most from the base value ${fixed(e.base)} (the model's average over its training data); ` +
      'a positive contribution pushes towards attack.' }),
    el('table', { class: 'why-table' },
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col', text: 'Feature' }), el('th', { scope: 'col', text: 'Value' }),
        el('th', { scope: 'col', text: 'Typical value' }), el('th', { scope: 'col', text: 'Contribution' }),
        el('th', { scope: 'col' }, el('span', { class: 'visually-hidden', text: 'Contribution as a bar' })))),
      el('tbody', {}, e.features.map((f) => el('tr', {},
        el('td', { class: 'mono', text: f.feature }),
        el('td', { class: 'mono', text: f.value }),
        el('td', { class: 'mono', text: f.typical ?? '–' }),
        el('td', { class: `num ${f.contribution >= 0 ? 'towards' : 'away'}`, text: signed(f.contribution) }),
        el('td', {}, bar(f.contribution)))))));
}

function csvField(value) {
  const text = value === undefined || value === null ? '' : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The results as CSV in the layout of `nadir predict`, built in the browser. */
function downloadResults() {
  const lines = [state.columns.join(',')];
  for (const r of state.results) {
    const cell = {
      row: r.row,
      line: r.line,
      prediction: r.prediction,
      [state.scoreName]: r.prediction === 'rejected' ? '' : scoreOf(r),
      fired: r.fired ?? '',
      family: r.family ?? '',
      family_probability: r.family_probability ?? '',
      warning: (r.warnings || []).join('; '),
    };
    lines.push(state.columns.map((c) => csvField(cell[c])).join(','));
  }
  const url = URL.createObjectURL(new Blob([`${lines.join('\n')}\n`], { type: 'text/csv' }));
  const link = el('a', { href: url, download: `nadir-${state.scoredModel}-results.csv` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// ---------------------------------------------------------------- start

async function start() {
  const showSection = setupTabs($('sections'), (tab) => {
    const name = tab.id.replace('tab-', '');
    if (location.hash !== `#${name}`) history.replaceState(null, '', `#${name}`);
    if (name === 'report' && !$('report-frame').src) $('report-frame').src = '/report';
  });
  setupTabs($('inputs'));
  const fromHash = () => {
    const name = location.hash.slice(1);
    if (['score', 'models', 'report'].includes(name)) showSection(`tab-${name}`);
  };
  window.addEventListener('hashchange', fromHash);
  fromHash();

  $('csv-form').addEventListener('submit', scoreCsv);
  $('csv-clear').addEventListener('click', () => { $('csv-file').value = ''; $('csv-file-about').textContent = ''; });
  $('csv-file').addEventListener('change', () => {
    const file = $('csv-file').files[0];
    const size = file && file.size < 1024 ? plural(file.size, 'byte')
      : `${(file ? file.size / 1024 : 0).toLocaleString('en', { maximumFractionDigits: 1 })} KiB`;
    $('csv-file-about').textContent = file ? `${file.name}, ${size}` : '';
  });
  $('csv-cancel').addEventListener('click', () => state.cancel && state.cancel.abort());
  $('record-form').addEventListener('submit', scoreForm);
  $('record-reset').addEventListener('click', resetForm);
  $('filter').addEventListener('change', () => { state.page = 0; renderTable(); });
  $('page-prev').addEventListener('click', () => { state.page--; renderTable(); });
  $('page-next').addEventListener('click', () => { state.page++; renderTable(); });
  $('download').addEventListener('click', downloadResults);

  try {
    const answer = await api('/v1/models');
    state.models = answer.models || [];
    state.features = answer.features || [];
    state.schema = answer.schema || null;
    state.defaultModel = answer.default_model;
  } catch (error) {
    $('load-error').textContent = `The list of models could not be loaded. ${plainError(error, 'model list')}`;
    $('load-error').hidden = false;
    return;
  }
  fillModelChoice();
  describeSchema();
  buildForm();
  renderModelCards();
  document.body.dataset.ready = 'true';
}

start();
