// Drives the page served by `nadir serve` in headless Chromium as a user would: upload a file,
// read the results, download them, paste records, send a malformed file, score one record with
// the form, look at the models and the report, use the keyboard. The model list starts at the
// API's default model; the results' numbers are all written one way; at 1,400 and 800 px the
// page does not scroll sideways. Saves a screenshot of each step (the results at both widths)
// and the downloaded CSV in the given directory.
//
//   node browser/web.mjs URL SCREENSHOT_DIR RECORDS_CSV
//
// Prints `ok <step>: ...` lines, then `RESULT {json}`; exits 1 at the first check that fails
// or when the page logged a console error it should not have.
import fs from 'node:fs';
import path from 'node:path';
import { STEP_TIMEOUT_MS, launch } from './launch.mjs';

const [url, shots, recordsFile] = process.argv.slice(2);
if (!url || !shots || !recordsFile) {
  console.error('usage: node browser/web.mjs URL SCREENSHOT_DIR RECORDS_CSV');
  process.exit(2);
}
fs.mkdirSync(shots, { recursive: true });

/** Console errors a step expects: the browser itself logs every 4xx answer of the API. */
const expectedStatus = { malformed: [422], 'many-bad': [422], unreadable: [400], 'form-error': [422], report: [404] };
let step = 'load';
const consoleErrors = [];
const result = { screenshots: [], expectedBrowserErrors: 0 };

function check(condition, message) {
  if (!condition) throw new Error(`${step}: ${message}`);
}

async function shot(page, name) {
  const file = path.join(shots, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  result.screenshots.push(file);
}

async function text(page, selector) {
  return (await page.locator(selector).innerText()).trim();
}

/** Window widths the page is looked at: a laptop's, and a narrow window's. */
const WIDTHS = [1400, 800];

/** Checks that the page does not scroll sideways at `width` px and saves a screenshot. */
async function atWidth(page, width, name) {
  await page.setViewportSize({ width, height: 900 });
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  check(scroll <= client, `at ${width} px the page is ${scroll} px wide`);
  await shot(page, `${name}-${width}`);
}

/** The whole numbers of a text written with four or more digits in a row: every count must
 * be grouped by thousands (58,639), so that none reads "67334" beside "58,639". Decimals
 * (a threshold of 0.5939) are not counts. */
function ungroupedNumbers(text) {
  return (text.match(/[\d.,]*\d/g) || []).filter((n) => !n.includes('.') && /\d{4}/.test(n));
}

/** Every text of the elements `selectors` select, text node by text node. */
async function textsOf(page, selectors) {
  return page.evaluate((selectors) => selectors.flatMap((selector) => {
    const walker = document.createTreeWalker(document.querySelector(selector), NodeFilter.SHOW_TEXT);
    const texts = [];
    while (walker.nextNode()) texts.push(walker.currentNode.textContent);
    return texts;
  }).join(' '), selectors);
}

const browser = await launch();
let failed = null;
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: WIDTHS[0], height: 900 } });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const allowed = (expectedStatus[step] || []).some((s) => message.text().includes(`status of ${s}`));
    if (allowed) result.expectedBrowserErrors += 1;
    else consoleErrors.push(`${step}: ${message.text()}`);
  });
  page.on('pageerror', (error) => consoleErrors.push(`${step}: uncaught ${error.message}`));
  page.setDefaultTimeout(STEP_TIMEOUT_MS);

  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]');
  const models = await page.locator('#model option').evaluateAll((options) => options.map((o) => o.value));
  check(models.length > 0, 'no model in the model list');
  const { default_model: defaultModel } = await page.evaluate(async () => (await fetch('/v1/models')).json());
  check(models.includes(defaultModel), `the API's default model ${defaultModel} is not in the list ${models}`);
  const selected = await page.locator('#model').inputValue();
  check(selected === defaultModel, `the model list starts at ${selected}, not the API's default ${defaultModel}`);
  result.defaultModel = selected;
  const classifier = models.find((m) => m === 'logistic_regression') || models[0];
  await page.selectOption('#model', classifier);
  result.models = models;
  result.model = classifier;
  await shot(page, '01-page');
  console.log(`ok load: models ${models.join(', ')}`);

  step = 'keyboard';
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement.textContent) === 'Skip to content', 'first Tab does not reach the skip link');
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement.id) === 'tab-score', 'second Tab does not reach the Score tab');
  await page.keyboard.press('ArrowRight');
  check(await page.isVisible('#panel-models') && !(await page.isVisible('#panel-score')), 'ArrowRight does not open the Models tab');
  await page.keyboard.press('ArrowLeft');
  check(await page.isVisible('#panel-score'), 'ArrowLeft does not come back to Score');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  check(outline !== 'none', 'the focused tab shows no focus outline');
  console.log('ok keyboard: skip link, tab order, arrow keys between tabs, focus outline');

  step = 'upload';
  await page.setInputFiles('#csv-file', recordsFile);
  await page.click('#csv-submit');
  await page.waitForSelector('#results:not([hidden])');
  await page.waitForSelector('#csv-submit:not([disabled])');
  const records = fs.readFileSync(recordsFile, 'utf8').split('\n').filter((l) => l.trim()).length - 1;
  const stats = await page.locator('#summary .stat b').allInnerTexts();
  const [total, normal, attacks, rejected] = stats.map((s) => Number(s.replace(/,/g, '')));
  check(total === records, `summary says ${total} records, the file holds ${records}`);
  check(normal + attacks === records && rejected === 0, `summary ${stats} does not add up`);
  check(normal > 0 && attacks > 0, `expected both classes in the sample, got ${stats}`);
  const tableRows = await page.locator('#results-table tbody tr').count();
  check(tableRows === Math.min(100, records), `table shows ${tableRows} rows`);
  const bars = await page.locator('#histogram rect.bar-normal, #histogram rect.bar-attack').count();
  check(bars > 0 && await page.locator('#histogram line.threshold').count() === 1, 'histogram has no bars or no threshold line');
  const progress = await text(page, '#progress-label');
  check(/in \d+ batch/.test(progress), `progress says "${progress}"`);
  result.summary = { records: total, normal, attacks, rejected, progress };
  const written = await textsOf(page, ['#summary', '#histogram', '#histogram-caption']);
  check(ungroupedNumbers(written).length === 0, `numbers written ungrouped: ${ungroupedNumbers(written)} in "${written}"`);
  for (const width of [...WIDTHS].reverse()) await atWidth(page, width, '02-results');
  console.log(`ok upload: ${total} records, ${attacks} attacks, ${normal} normal, ${bars} histogram bars; ${progress}`);

  step = 'paging';
  await page.click('#page-next');
  const pageInfo = await text(page, '#page-info');
  check(pageInfo.startsWith('Rows 101–200'), `after Next page: "${pageInfo}"`);
  await page.selectOption('#filter', 'attack');
  const badges = await page.locator('#results-table tbody .badge').allInnerTexts();
  check(badges.length > 0 && badges.every((b) => b === 'attack'), 'the attack filter shows other rows');
  await page.selectOption('#filter', 'all');
  console.log(`ok paging: ${pageInfo}; attack filter`);

  step = 'download';
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  const downloaded = path.join(shots, 'results.csv');
  await download.saveAs(downloaded);
  const lines = fs.readFileSync(downloaded, 'utf8').trimEnd().split('\n');
  check(lines[0] === 'row,line,prediction,probability,family,family_probability,warning', `header "${lines[0]}"`);
  check(lines.length === records + 1, `downloaded ${lines.length - 1} rows for ${records} records`);
  const rows = lines.slice(1).map((l) => l.split(','));
  check(rows.every((r, i) => Number(r[0]) === i + 1 && Number(r[1]) === i + 2), 'rows or lines out of order');
  check(rows.filter((r) => r[2] === 'attack').length === attacks, 'attack count differs from the summary');
  result.download = downloaded;
  result.downloadName = download.suggestedFilename();
  console.log(`ok download: ${download.suggestedFilename()} with ${lines.length - 1} rows`);

  const sample = fs.readFileSync(recordsFile, 'utf8').split('\n');
  const header = sample[0];
  const setField = (line, field, value) => {
    const fields = line.split(',');
    fields[header.split(',').indexOf(field)] = value;
    return fields.join(',');
  };

  step = 'paste';
  await page.click('#csv-clear');
  await page.fill('#csv-text', sample.slice(1, 4).join('\n'));
  await page.click('#csv-submit');
  await page.waitForFunction(() => document.querySelector('#summary .stat b')?.textContent === '3');
  console.log('ok paste: 3 headerless records scored');

  step = 'why';
  // A row's "Why?" shows what the API's `explain=5` answers for that record: the same
  // features, values, typical values and signed contributions, strongest first.
  const explained = models.find((m) => m === 'random_forest');
  check(explained, `no random_forest among ${models}`);
  await page.selectOption('#model', explained);
  await page.click('#csv-submit');
  await page.waitForFunction(() => document.querySelector('#results-title')?.textContent === 'Results of random_forest'
    && document.querySelector('#summary .stat b')?.textContent === '3');
  await page.click('#results-table tbody tr:nth-child(2) button.why');
  await page.waitForSelector('.why-table');
  const shownWhy = await page.locator('.why-table tbody tr').evaluateAll((trs) =>
    trs.map((tr) => [...tr.cells].slice(0, 4).map((td) => td.textContent)));
  const expectedWhy = await page.evaluate(async (line) => {
    const answer = await fetch('/v1/models/random_forest/predict?explain=5', {
      method: 'POST', headers: { 'content-type': 'text/csv' }, body: `${line}\n`,
    });
    return (await answer.json()).results[0].explanation;
  }, sample[2]);
  check(expectedWhy.features.length > 0 && expectedWhy.features.length <= 5, `the API explains with ${expectedWhy.features.length} features`);
  check(shownWhy.length === expectedWhy.features.length, `${shownWhy.length} features shown, the API gives ${expectedWhy.features.length}`);
  expectedWhy.features.forEach((f, i) => {
    const [feature, value, typical, contribution] = shownWhy[i];
    check(feature === f.feature && value === f.value && typical === (f.typical ?? '–'),
      `feature ${i + 1} shown as ${shownWhy[i]}, the API says ${JSON.stringify(f)}`);
    const shown = Number(contribution.replace('−', '-'));
    check(Math.abs(shown - f.contribution) <= 5e-5 && (f.contribution > 0) === contribution.startsWith('+'),
      `contribution ${contribution} shown for ${f.contribution}`);
  });
  const whyText = await text(page, '.why-box p');
  check(whyText.startsWith('Why row 2 is ') && whyText.includes(`base value ${expectedWhy.base.toFixed(4)}`)
    && whyText.includes('probability of attack'), `the explanation says "${whyText}"`);
  result.why = { row: 2, features: shownWhy, text: whyText };
  await shot(page, '03a-why');
  await page.click('#results-table tbody button.why[aria-expanded="true"]');
  check(await page.locator('.why-table').count() === 0, 'a second click does not hide the explanation');
  await page.selectOption('#model', classifier);
  console.log(`ok why: row 2, ${shownWhy.map((f) => `${f[0]} ${f[3]}`).join(', ')}`);

  step = 'malformed';
  // Bad values in the first batch and, at line 1502 and 1800, in the second: the page must
  // turn the second batch's record indices back into the file's lines.
  const badLines = sample.slice();
  badLines[2] = setField(badLines[2], 'srcbytes', '-1');
  badLines[3] = setField(setField(badLines[3], 'serrorrate', '1.5'), 'flag', '');
  badLines[1501] = setField(badLines[1501], 'srcbytes', '-7');
  badLines[1799] = '0,tcp,http';
  const bad = badLines.join('\n');
  await page.fill('#csv-text', '');
  await page.setInputFiles('#csv-file', { name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
  await page.click('#csv-submit');
  await page.waitForSelector('#csv-errors:not([hidden])');
  const errorText = await text(page, '#csv-errors');
  check(/Line 3, field srcbytes: value "-1"/.test(errorText), `no line-3 srcbytes error in "${errorText}"`);
  check(/Line 4, field serrorrate: value "1\.5"/.test(errorText), `no line-4 serrorrate error in "${errorText}"`);
  check(/Line 4, field flag/.test(errorText), `no line-4 flag error in "${errorText}"`);
  check(/Line 1502, field srcbytes: value "-7"/.test(errorText), `no line-1502 error in "${errorText}"`);
  check(/Line 1800: expected 43 columns, found 3/.test(errorText), `no line-1800 error in "${errorText}"`);
  check(/Nothing was scored: 4 records/.test(errorText), `not 4 bad records in "${errorText}"`);
  check(!(await page.isVisible('#results')), 'results still shown for a rejected file');
  result.malformedError = errorText;
  await shot(page, '03-malformed');
  console.log(`ok malformed: ${errorText.replace(/\n/g, ' | ')}`);

  step = 'skip';
  await page.check('#skip-bad');
  await page.click('#csv-submit');
  await page.waitForSelector('#results:not([hidden])');
  const skipStats = (await page.locator('#summary .stat b').allInnerTexts()).map((s) => Number(s.replace(/,/g, '')));
  check(skipStats[0] === records && skipStats[3] === 4, `skip mode summary ${skipStats}`);
  await page.selectOption('#filter', 'rejected');
  const rejectedRows = (await page.locator('#results-table tbody tr.rejected').allInnerTexts()).map((r) => r.replace(/\s+/g, ' ').trim());
  check(rejectedRows.length === 4, `${rejectedRows.length} rejected rows shown`);
  check(rejectedRows[2].startsWith('1501 1502 rejected') && rejectedRows[2].includes('field srcbytes: value "-7"'),
    `third rejected row says "${rejectedRows[2]}"`);
  await shot(page, '04-skip');
  await page.uncheck('#skip-bad');
  console.log(`ok skip: ${skipStats[0] - skipStats[3]} scored, rejected rows ${rejectedRows.map((r) => r.split(' ')[1]).join(', ')}`);

  step = 'many-bad';
  // More bad records in one batch than the server lists one by one: the page still counts
  // them all, says how many were not listed, and in skip mode shows every one as rejected.
  const manyBad = sample.slice();
  for (let line = 2; line <= 301; line++) manyBad[line - 1] = setField(manyBad[line - 1], 'srcbytes', '-1');
  await page.setInputFiles('#csv-file', { name: 'many-bad.csv', mimeType: 'text/csv', buffer: Buffer.from(manyBad.join('\n')) });
  await page.click('#csv-submit');
  await page.waitForSelector('#csv-errors:not([hidden])');
  const manyText = await text(page, '#csv-errors');
  check(/Nothing was scored: 300 records/.test(manyText), `not 300 bad records in "${manyText.slice(0, 300)}"`);
  check(/Line 101, field srcbytes: value "-1"/.test(manyText), `no line-101 error in "${manyText.slice(0, 300)}"`);
  check(/Lines 2–1001: 200 more records with problems, not listed one by one; bad values by field in these lines: srcbytes 300/.test(manyText),
    `no count of the unlisted records in "${manyText}"`);
  await shot(page, '04b-many-bad');
  await page.check('#skip-bad');
  await page.click('#csv-submit');
  await page.waitForSelector('#results:not([hidden])');
  const manyStats = (await page.locator('#summary .stat b').allInnerTexts()).map((s) => Number(s.replace(/,/g, '')));
  check(manyStats[0] === records && manyStats[3] === 300, `many-bad skip summary ${manyStats}`);
  await page.selectOption('#filter', 'rejected');
  const manyInfo = await text(page, '#page-info');
  check(manyInfo.includes('of 300 shown'), `rejected rows: "${manyInfo}"`);
  await page.uncheck('#skip-bad');
  await page.selectOption('#filter', 'all');
  console.log(`ok many-bad: 300 rejected, 200 of them counted without being listed`);

  step = 'unreadable';
  await page.setInputFiles('#csv-file', { name: 'notes.csv', mimeType: 'text/csv', buffer: Buffer.from('hello,world\n1,2,3\n') });
  await page.click('#csv-submit');
  await page.waitForFunction(() => document.querySelector('#csv-errors:not([hidden])')?.textContent.includes('could not be read'));
  const unreadable = await text(page, '#csv-errors');
  check(unreadable.includes('line 1 has 2 columns') && !unreadable.includes('body:'), `unreadable file: "${unreadable}"`);
  result.unreadableError = unreadable;
  await shot(page, '05-unreadable');
  console.log(`ok unreadable: ${unreadable}`);

  step = 'form';
  await page.click('#tab-form');
  check(await page.inputValue('#f-srcbytes') === '225', 'the form is not prefilled');
  await page.click('#record-submit');
  await page.waitForSelector('#record-result .badge');
  const verdict = await text(page, '#record-result');
  check(verdict.includes('Prediction: normal'), `the typical normal connection scored "${verdict}"`);
  result.formVerdict = verdict;
  await shot(page, '06-form');
  console.log(`ok form: ${verdict}`);

  step = 'form-error';
  await page.fill('#f-srcbytes', '-5');
  await page.fill('#f-serrorrate', 'lots');
  await page.click('#record-submit');
  await page.waitForSelector('#err-srcbytes:not([hidden])');
  const srcbytesError = await text(page, '#err-srcbytes');
  const rateError = await text(page, '#err-serrorrate');
  check(await page.getAttribute('#f-srcbytes', 'aria-invalid') === 'true', 'srcbytes not marked invalid');
  check(srcbytesError.includes('-5') && rateError.includes('lots'), `messages "${srcbytesError}", "${rateError}"`);
  check(await page.evaluate(() => document.activeElement.id) === 'f-srcbytes', 'focus not moved to the first bad field');
  check(await text(page, '#record-result') === '', 'a verdict is shown for a rejected record');
  result.formErrors = [srcbytesError, rateError];
  await shot(page, '07-form-error');
  await page.click('#record-reset');
  check(await page.inputValue('#f-srcbytes') === '225' && await page.isHidden('#err-srcbytes'), 'reset does not restore the form');
  console.log(`ok form-error: srcbytes "${srcbytesError}", serrorrate "${rateError}"`);

  step = 'models';
  await page.click('#tab-models');
  const cards = await page.locator('.model-card').count();
  check(cards === models.length, `${cards} model cards for ${models.length} models`);
  const cardText = await text(page, '#model-cards');
  check(/[0-9a-f]{64}/.test(cardText), 'no data checksum on the model cards');
  check(cardText.includes('Threshold') && cardText.includes('F1'), 'no threshold or metrics on the model cards');
  await shot(page, '08-models');
  console.log(`ok models: ${cards} cards`);

  step = 'report';
  await page.click('#tab-report');
  const frame = page.frameLocator('#report-frame');
  await frame.locator('body').waitFor();
  result.reportHeading = (await frame.locator('h1').first().innerText()).trim();
  await shot(page, '09-report');
  console.log(`ok report: "${result.reportHeading}"`);

  step = 'done';
  check(consoleErrors.length === 0, `console errors:\n${consoleErrors.join('\n')}`);
  console.log('ok console: no unexpected console errors');
} catch (error) {
  failed = error;
} finally {
  await browser.close();
}
if (failed) {
  console.error(`FAILED ${failed.message}`);
  if (consoleErrors.length) console.error(`console errors:\n${consoleErrors.join('\n')}`);
  process.exit(1);
}
console.log(`RESULT ${JSON.stringify(result)}`);
